"""Sign-in and sign-out (flask-login sessions; the limiter is attached in console.init_app)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from console.blueprint import bp
from console.forms import SignInForm
from console.guard import safe_next
from console.users import authenticate


@bp.route("/signin", methods=["GET", "POST"])
def signin():
    """The sign-in form; a failure says nothing about which field was wrong."""
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("console.board"))
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        user = authenticate(form.tenant.data, form.email.data, form.password.data)
        if user is not None:
            session.clear()  # nothing from before sign-in survives into the session
            login_user(user)
            session.permanent = True
            return redirect(safe_next(request.args.get("next")))
        flash("Wrong tenant, e-mail or password.", "error")
        status = 401
    elif request.method == "POST":
        status = 422
    return render_template("console/signin.html", form=form), status


@bp.post("/signout")
def signout():
    """End the session."""
    logout_user()
    session.clear()
    return redirect(url_for("console.signin"))
