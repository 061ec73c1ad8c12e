"""gunicorn settings, read automatically from the repo root (the Procfile stays as it is).

The media plane keeps 20 ms audio deadlines for every call of a worker; a full garbage collection
over the ~145k objects imported at boot (SQLAlchemy, Flask, the OpenAI SDK) paused a worker for
~100 ms. Freezing what exists once the worker has loaded the app takes those objects out of
every later collection (bench/README.md: 95-123 ms -> 10-39 ms).
"""
import gc

# Every gunicorn line (errors and the access log) is a JSON object, like the app's own logs:
# JSON escapes control characters, so a request path carrying %0A cannot forge a log line.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "conference.logs.JsonFormatter"}},
    "handlers": {
        "error": {"class": "logging.StreamHandler", "formatter": "json",
                  "stream": "ext://sys.stderr"},
        "access": {"class": "logging.StreamHandler", "formatter": "json",
                   "stream": "ext://sys.stdout"},
    },
    "root": {"level": "INFO", "handlers": ["error"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
    },
}


# Connections one gevent worker accepts (gunicorn's default, made explicit): a socket that never
# sends `start` is closed after START_TIMEOUT_S, so idle sockets cannot hold them all; /metrics
# shows the limit (forkline_worker_connections_limit) next to the sockets awaiting start.
worker_connections = 1000


def post_worker_init(worker) -> None:
    """Freeze the boot-time heap once the app is loaded in this worker."""
    from conference.media import metrics

    metrics.WORKER_CONNECTIONS.set(worker.cfg.worker_connections)
    metrics.WORKER_PID.set(worker.pid)
    gc.collect()
    gc.freeze()
