"""`python -m twilio_sim --port P [--clock-rate R]`: serve the simulator on gevent."""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import ipaddress  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

from twilio_sim.clock import ScaledClock  # noqa: E402
from twilio_sim.server import create_sim_app  # noqa: E402
from twilio_sim.strictness import RULES, Strictness, parse_lenient  # noqa: E402


def exposure_warning(host: str) -> str | None:
    """A loud warning when the unauthenticated /sim control API is bound off loopback."""
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass  # a host name: it may resolve anywhere
    return (f"WARNING: twilio_sim is bound to {host}: its /sim control API is unauthenticated and "
            "signs any URL you give it with the account's auth token. Bind it to 127.0.0.1 "
            "unless this network is yours alone.")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, read credentials from the environment, serve until killed."""
    parser = argparse.ArgumentParser(prog="python -m twilio_sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055, help="0 picks a free port")
    parser.add_argument("--clock-rate", type=float, default=1.0,
                        help="simulated seconds per real second (default 1.0)")
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--allow-ws", action="store_true",
                        help="development only: accept ws:// stream URLs (Twilio needs wss://)")
    parser.add_argument("--lenient", default=None,
                        help="comma-separated strictness rules to relax (or 'all'): "
                             + ", ".join(RULES))
    args = parser.parse_args(argv)
    try:
        strictness = Strictness(
            lenient=parse_lenient(args.lenient if args.lenient is not None
                                  else os.environ.get("TWILIO_SIM_LENIENT")),
            allow_ws=args.allow_ws or os.environ.get("TWILIO_SIM_ALLOW_WS") == "1")
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    account_sid = os.environ.get("TWILIO_ACCOUNT_SID", "")
    auth_token = os.environ.get("TWILIO_AUTH_TOKEN", "")
    if not account_sid or not auth_token:
        print("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_sim_app(account_sid, auth_token, ScaledClock(args.clock_rate),
                         strictness=strictness)
    warning = exposure_warning(args.host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    server = WSGIServer((args.host, args.port), app, log=None, error_log=logging.getLogger("wsgi"))
    server.start()
    print(f"twilio_sim listening on http://{args.host}:{server.server_port}", flush=True)
    # SIGTERM/SIGINT: stop serving, then hang up every call so apps see `stop` on their streams.
    gevent.signal_handler(signal.SIGTERM, server.stop)
    gevent.signal_handler(signal.SIGINT, server.stop)
    server.serve_forever()
    app.extensions["twilio_sim"].stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
