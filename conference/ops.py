"""Liveness and readiness probes."""
from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from flask import Blueprint, Flask, jsonify

from conference.logs import get_logger
from models import get_engine

bp = Blueprint("ops", __name__)
log = get_logger("ops")


@bp.get("/healthz")
def healthz():
    """200 while the process is up."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """200 when the database answers, else 503."""
    try:
        with get_engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa_exc.SQLAlchemyError as exc:
        log.warning("database not reachable: %s", type(exc).__name__)
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    return jsonify({"status": "ok", "database": "ok"})


def init_app(app: Flask) -> None:
    """Register the probes."""
    app.register_blueprint(bp)
