"""Applications endpoints (TwiML Apps with a VoiceUrl)."""
from __future__ import annotations

from flask import jsonify, request

from ..store import Application
from . import bp, check_url, not_found, render, sim


@bp.post("/Applications.json")
def create_application():
    """CreateApplication → 201."""
    form = request.form
    app = Application(account_sid=sim().account_sid, friendly_name=form.get("FriendlyName"),
                      voice_url=check_url("VoiceUrl", form.get("VoiceUrl")),
                      voice_method=form.get("VoiceMethod", "POST").upper(),
                      status_callback=check_url("StatusCallback", form.get("StatusCallback")),
                      status_callback_method=form.get("StatusCallbackMethod", "POST").upper())
    sim().store.add(app)
    return jsonify(render.application(sim().store, app)), 201


@bp.get("/Applications.json")
def list_applications():
    """ListApplication → 200 (filter: FriendlyName)."""
    name = request.args.get("FriendlyName")
    items = [render.application(sim().store, a) for a in sim().store.applications.values()
             if name in (None, a.friendly_name)]
    return jsonify(render.page("applications", request.path, items, request.args))


@bp.get("/Applications/<sid>.json")
def fetch_application(sid):
    """FetchApplication → 200."""
    app = sim().store.applications.get(sid)
    if app is None:
        raise not_found()
    return jsonify(render.application(sim().store, app))
