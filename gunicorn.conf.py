"""gunicorn settings, read automatically from the repo root (the Procfile stays as it is).

The media plane keeps 20 ms audio deadlines for every call of a worker; a full garbage collection
over the ~145k objects imported at boot (SQLAlchemy, Flask, the OpenAI SDK) paused a worker for
~100 ms. Freezing what exists once the worker has loaded the app takes those objects out of
every later collection (bench/README.md: 95-123 ms -> 10-39 ms).
"""
import gc


def post_worker_init(worker) -> None:
    """Freeze the boot-time heap once the app is loaded in this worker."""
    gc.collect()
    gc.freeze()
