"""Forkline application factory; the only module that reads the environment."""
if __name__ == "__main__":
    # The dev server runs on gevent; patch before anything imports socket or threading.
    from gevent import monkey

    monkey.patch_all()


import logging
import os
import sys

from flask import Flask

DEFAULTS: dict = {
    "ENVIRONMENT": "production",  # development/testing may leave PUBLIC_URL unset
    "PUBLIC_URL": None,  # required in production: callbacks and signature checks use it
    "TRUSTED_PROXY_COUNT": 0,  # proxies whose X-Forwarded-Proto/Host/Port/For are honoured
    "TWILIO_MAX_BODY": 64 * 1024,  # bytes; Twilio's callbacks are a few KB
    "API_MAX_BODY": 1024 * 1024,  # bytes, every other route
    "DATABASE_URL": None,  # None -> sqlite file under instance/
    "REDIS_URL": None,
    "TWILIO_ACCOUNT_SID": "",
    "TWILIO_AUTH_TOKEN": "",
    "TWILIO_API_URL": "https://api.twilio.com",
    "TWILIO_TWIML_APP_SID": "",
    "TWILIO_CALLER_ID": "",
    "AI_BACKEND": None,  # None -> "realtime" with an OpenAI key, else "local"
    "OPENAI_API_KEY": None,
    "OPENAI_BASE_URL": None,
    "OPENAI_WEBSOCKET_BASE_URL": None,  # None -> derived from OPENAI_BASE_URL
    "OPENAI_REALTIME_MODEL": None,  # None -> gpt-realtime
    "DIAL_RATE_LIMIT": "30 per minute",  # per API key, over every dialing API request
    "DIAL_ALLOWED_COUNTRY_CODES": None,  # e.g. "1,44"; None: every country code
    "DIAL_BLOCKED_PREFIXES": None,  # None: +1900,+1976 (NANP premium rate)
    "SIP_ALLOWED_DOMAINS": None,  # e.g. "pbx.example.com"; None: no SIP destinations
    "AGENT_TRANSFER_NUMBER": None,  # human agent dialed by the transfer_to_human tool
    "AGENT_LOOKUP_URL": None,  # tenant webhook POSTed by the lookup tool
    "TOOL_SIGNING_KEY": None,  # derives each tenant's tool-webhook secret from its stored nonce
    "TOOL_SECRET_OVERLAP_S": 86400.0,  # after a rotation the previous tool secret still signs
    "OPENAI_TIMEOUT_S": 10.0,  # per HTTP request of the pipeline's OpenAI stages
    "PIPELINE_SILENCE_MS": 500,  # pipeline/local endpointing: silence that ends a turn
    "TRANSCRIPTS_ENABLED": None,  # None -> fork transcription on, except under TESTING
    "SECRET_KEY": None,  # signs stream tokens; required in production, never the Twilio token
    "SECRET_KEY_FALLBACKS": [],  # previous SECRET_KEY, still accepted during a rotation
    "STREAM_TOKEN_TTL_S": 120,
    "STREAM_RECONNECT_MAX_AGE_S": 600.0,  # oldest token a reconnecting AI stream may re-send
    "PLAYOUT_LEAD_MS": 300,
    "MARK_INTERVAL_MS": 200,
    "REPLAY_INBOUND_S": 8.0,
    "REPLAY_OUTBOUND_S": 4.0,
    "RECONNECT_WINDOW_S": 10.0,
    "START_TIMEOUT_S": 5.0,  # a socket without a valid `start` by then is closed
    "MALLOC_TRIM_INTERVAL_S": 2.0,  # free C-heap pages go back to the OS this often (0: never)
    "AI_CAP_LEASE_S": 180.0,  # Redis lease of a live AI slot; refreshed every third of it
    "METRICS_TOKEN": None,  # when set, /metrics needs `Authorization: Bearer <it>`
    "METRICS_MULTIPROC_DIR": None,  # set by gunicorn.conf.py: /metrics sums every worker
    "RECORDINGS_DIR": None,  # None -> instance/recordings
    "CPU_POOL_WORKERS": 1,  # processes per gunicorn worker for offline STT decoding
    "CPU_POOL_MAX_PENDING": 8,  # decode tasks queued or running; beyond, transcripts skip
    "CPU_POOL_NICE": 10,  # pool processes run this much nicer than the worker (0: same)
    "CPU_POOL_POLICY": "batch",  # their scheduling policy: other, batch or idle
    "TRANSCRIBE_CONCURRENCY": None,  # fork utterances decoded at once per worker; None -> 2
    # offline (the pool decodes one at a time), 8 with OpenAI transcription (network-bound)
    "LOG_LEVEL": "INFO",
    "CONSOLE_SECRET_KEY": None,  # signs console sessions + CSRF; None -> derived from SECRET_KEY
}

# Environment variables whose config key has another name.
ENV_RENAMES: dict = {"FORKLINE_SECRET_KEY": "SECRET_KEY", "FORKLINE_ENV": "ENVIRONMENT",
                     "FORKLINE_SECRET_KEY_PREVIOUS": "SECRET_KEY_FALLBACKS",
                     "PROMETHEUS_MULTIPROC_DIR": "METRICS_MULTIPROC_DIR"}

# Environment variable -> (config key, parser). Documented in README.md.
ENV_VARS: dict = {
    "FORKLINE_ENV": str,
    "PUBLIC_URL": str,
    "TRUSTED_PROXY_COUNT": int,
    "TWILIO_MAX_BODY": int,
    "API_MAX_BODY": int,
    "DATABASE_URL": str,
    "REDIS_URL": str,
    "TWILIO_ACCOUNT_SID": str,
    "TWILIO_AUTH_TOKEN": str,
    "TWILIO_API_URL": str,
    "TWILIO_TWIML_APP_SID": str,
    "TWILIO_CALLER_ID": str,
    "AI_BACKEND": str,
    "OPENAI_API_KEY": str,
    "OPENAI_BASE_URL": str,
    "OPENAI_WEBSOCKET_BASE_URL": str,
    "OPENAI_REALTIME_MODEL": str,
    "DIAL_RATE_LIMIT": str,
    "DIAL_ALLOWED_COUNTRY_CODES": str,
    "DIAL_BLOCKED_PREFIXES": str,
    "SIP_ALLOWED_DOMAINS": str,
    "AGENT_TRANSFER_NUMBER": str,
    "AGENT_LOOKUP_URL": str,
    "TOOL_SIGNING_KEY": str,
    "TOOL_SECRET_OVERLAP_S": float,
    "OPENAI_TIMEOUT_S": float,
    "PIPELINE_SILENCE_MS": int,
    "TRANSCRIPTS_ENABLED": int,
    "FORKLINE_SECRET_KEY": str,
    "FORKLINE_SECRET_KEY_PREVIOUS": lambda value: [value],
    "STREAM_TOKEN_TTL_S": float,
    "STREAM_RECONNECT_MAX_AGE_S": float,
    "PLAYOUT_LEAD_MS": int,
    "MARK_INTERVAL_MS": int,
    "REPLAY_INBOUND_S": float,
    "REPLAY_OUTBOUND_S": float,
    "RECONNECT_WINDOW_S": float,
    "START_TIMEOUT_S": float,
    "MALLOC_TRIM_INTERVAL_S": float,
    "AI_CAP_LEASE_S": float,
    "METRICS_TOKEN": str,
    "PROMETHEUS_MULTIPROC_DIR": str,
    "RECORDINGS_DIR": str,
    "CPU_POOL_WORKERS": int,
    "CPU_POOL_MAX_PENDING": int,
    "CPU_POOL_NICE": int,
    "CPU_POOL_POLICY": str,
    "TRANSCRIBE_CONCURRENCY": int,
    "LOG_LEVEL": str,
    "CONSOLE_SECRET_KEY": str,
}


def config_from_env(environ: dict | None = None) -> dict:
    """Read every documented variable that is set in the environment."""
    environ = os.environ if environ is None else environ
    config = {}
    for name, parse in ENV_VARS.items():
        value = environ.get(name)
        if value not in (None, ""):
            config[ENV_RENAMES.get(name, name)] = parse(value)
    return config


def normalize_database_url(url: str | None, instance_path: str) -> str:
    """Default to SQLite under instance/ and rewrite Heroku's postgres:// for psycopg 3."""
    if not url:
        return "sqlite:///" + os.path.join(instance_path, "forkline.sqlite")
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def create_app(config: dict | None = None) -> Flask:
    """Build the Flask app from defaults plus `config`, or the environment when it is None."""
    app = Flask(__name__, instance_relative_config=True, template_folder="twiml_templates")
    app.config.from_mapping(DEFAULTS)
    app.config.update(config_from_env() if config is None else config)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config["DATABASE_URL"] = normalize_database_url(
        app.config["DATABASE_URL"], app.instance_path
    )
    from conference.security.proxy import is_dev

    if not app.config["SECRET_KEY"] and is_dev(app.config):
        # Development only (production requires FORKLINE_SECRET_KEY): a key per start.
        app.config["SECRET_KEY"] = os.urandom(32).hex()
    if not app.config["AI_BACKEND"]:
        app.config["AI_BACKEND"] = "realtime" if app.config["OPENAI_API_KEY"] else "local"

    import models
    from conference import init_app as init_conference
    from conference.logs import configure_logging
    from conference.security import init_app as init_security
    from console import init_app as init_console

    configure_logging(app.config["LOG_LEVEL"], (app.name, "werkzeug"))
    init_security(app)  # refuses to start without PUBLIC_URL in production
    models.init_app(app)
    init_conference(app)
    init_console(app)  # /console: sessions, CSRF and sign-in limits scoped to its blueprint
    return app


def main(argv: list[str] | None = None) -> None:
    """Run the development server on gevent, with WebSockets."""
    from gevent.pywsgi import WSGIServer

    config = config_from_env()
    config.setdefault("ENVIRONMENT", "development")
    app = create_app(config)
    port = int(os.environ.get("PORT", "5000"))
    logging.getLogger("forkline").info("listening on 0.0.0.0:%d", port)
    WSGIServer(("0.0.0.0", port), app, log=None).serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
