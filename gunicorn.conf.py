"""gunicorn settings, read automatically from the repo root (the Procfile stays as it is).

The media plane keeps 20 ms audio deadlines for every call of a worker; a full garbage collection
over the ~145k objects imported at boot (SQLAlchemy, Flask, the OpenAI SDK) paused a worker for
~100 ms. Freezing what exists once the worker has loaded the app takes those objects out of
every later collection (bench/README.md: 95-123 ms -> 10-39 ms).
"""
import gc
import shutil
import tempfile

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


# gunicorn trusts X-Forwarded-Proto from 127.0.0.1 by default (forwarded_allow_ips): any client
# of a proxy on the same host could then make a request look https. Forkline has one trust model,
# TRUSTED_PROXY_COUNT (werkzeug's ProxyFix, README Security), so gunicorn's own is switched off.
forwarded_allow_ips = ""
secure_scheme_headers: dict = {}


# Connections one gevent worker accepts (gunicorn's default, made explicit): a socket that never
# sends `start` is closed after START_TIMEOUT_S, so idle sockets cannot hold them all; /metrics
# shows the limit (forkline_worker_connections_limit) next to the sockets awaiting start.
worker_connections = 1000


# One /metrics scrape shows the whole process tree: every worker writes its samples to this
# directory (prometheus-client's multiprocess mode) and whichever worker answers sums them. It is
# made fresh per master start (stale files would add a previous run's counts) and handed to the
# workers through gunicorn's raw_env, so no module but app.py reads the environment.
METRICS_DIR = tempfile.mkdtemp(prefix="forkline-metrics-")
raw_env = [f"PROMETHEUS_MULTIPROC_DIR={METRICS_DIR}"]


def child_exit(server, worker) -> None:
    """Drop a dead worker's live gauges (its counters keep counting in the sums)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, path=METRICS_DIR)


def on_exit(server) -> None:
    """Remove the metrics directory with the master."""
    shutil.rmtree(METRICS_DIR, ignore_errors=True)


def post_worker_init(worker) -> None:
    """Freeze the boot-time heap once the app is loaded in this worker."""
    from conference.media import metrics

    metrics.WORKER_CONNECTIONS.set(worker.cfg.worker_connections)
    metrics.WORKER_PID.set(worker.pid)
    metrics.WORKERS.set(1)
    # Every greenlet (two per media socket) otherwise records its spawning stack and tree:
    # ~1 KB of objects per socket, kept for the call's lifetime, that only debuggers read.
    import gevent

    gevent.config.track_greenlet_tree = False
    gc.collect()
    gc.freeze()
