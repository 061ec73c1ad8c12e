"""Console pages: board, conference, ended conferences, recordings, users."""
from __future__ import annotations

import os
import re

from flask import abort, current_app, flash, redirect, render_template, send_from_directory, url_for
from flask_login import current_user

from conference import service
from console import state
from console.blueprint import bp
from console.forms import NewUserForm
from console.guard import admin_required
from console.users import UserError, create_user, tenant_users
from models import Tenant, get_session

RECORDING_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}\.wav$")


@bp.get("/")
def board():
    """The live board (filled and kept current by board.js over SSE)."""
    return render_template("console/board.html", board=state.board_view(current_user.tenant_id))


@bp.get("/conferences/<name>")
def conference(name: str):
    """One conference: live state and controls, or the record of an ended one."""
    conf = service.get_conference(current_user.tenant_id, name)
    detail = state.detail_view(conf)
    if conf.is_active:
        return render_template("console/conference.html", conf=detail)
    return render_template("console/ended_conference.html", conf=detail,
                           summary=state.summary(conf), recordings=_recordings(conf))


@bp.get("/ended")
def ended():
    """Ended conferences of the tenant."""
    confs = [state.conference_view(c) for c in state.ended_conferences(current_user.tenant_id)]
    return render_template("console/ended.html", conferences=confs)


def _recording_dir(conf) -> str | None:
    tenant = get_session().get(Tenant, conf.tenant_id)
    if tenant is None or not tenant.recording_enabled:
        return None
    root = current_app.config.get("RECORDINGS_DIR") or os.path.join(
        current_app.instance_path, "recordings")
    # Same folder name the media plane writes (t<tenant>-<conference>, unsafe chars -> _).
    folder = re.sub(r"[^A-Za-z0-9_-]", "_", f"t{conf.tenant_id}-{conf.name}")[:64] or "_"
    return os.path.join(root, folder)


def _recordings(conf) -> list[str]:
    folder = _recording_dir(conf)
    if not folder or not os.path.isdir(folder):
        return []
    return sorted(f for f in os.listdir(folder) if RECORDING_NAME.match(f))


@bp.get("/conferences/<name>/recordings/<filename>")
def recording(name: str, filename: str):
    """One WAV of an opted-in tenant's conference."""
    conf = service.get_conference(current_user.tenant_id, name)
    folder = _recording_dir(conf)
    if not folder or not RECORDING_NAME.match(filename):
        abort(404)
    return send_from_directory(folder, filename, mimetype="audio/wav")


@bp.route("/users", methods=["GET", "POST"])
@admin_required
def users():
    """Admins list and create the users of their tenant."""
    form = NewUserForm()
    status = 200
    if form.validate_on_submit():
        try:
            create_user(current_user.tenant_name, form.email.data, form.role.data,
                        form.password.data)
        except UserError as exc:
            flash(str(exc), "error")
            status = 422
        else:
            flash(f"Created {form.role.data} {form.email.data}.", "info")
            return redirect(url_for("console.users"))
    elif form.is_submitted():
        status = 422
    return render_template("console/users.html", form=form,
                           users=tenant_users(current_user.tenant_id)), status
