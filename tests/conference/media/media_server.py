"""Run the real app on gevent's WSGI server for end-to-end media tests (a subprocess).

Config comes as JSON in FORKLINE_TEST_CONFIG; the bound port is printed on stdout.
Registers the test-only backends of fake_backends.py.
"""
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))

import fake_backends  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

from app import create_app  # noqa: E402
from models import Base  # noqa: E402


def main() -> None:
    fake_backends.register_all()
    app = create_app(json.loads(os.environ["FORKLINE_TEST_CONFIG"]))
    Base.metadata.create_all(app.extensions["db_engine"])
    server = WSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
