"""App factory: the REST API, the /sim control API and the status page on one Flask app."""
from __future__ import annotations

from flask import Flask, render_template_string

from .engine import Simulator
from .strictness import Strictness

STATUS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2">
<title>Twilio simulator</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:.3em .6em}
th{background:#f3f3f3;text-align:left}</style></head><body>
<h1>Twilio simulator</h1>
<p id="summary">Account {{ sim.account_sid }} · clock ×{{ sim.clock.rate }} ·
tick {{ sim.ticks }} · {{ calls|length }} calls · {{ confs|length }} conferences ·
{{ streams|length }} streams</p>
<h2>Calls</h2><table id="calls"><tr><th>SID</th><th>From</th><th>To</th><th>Status</th>
<th>Direction</th></tr>{% for c in calls %}<tr><td>{{ c.sid }}</td><td>{{ c.from_ }}</td>
<td>{{ c.to }}</td><td class="status">{{ c.status }}</td><td>{{ c.direction }}</td></tr>
{% endfor %}</table>
<h2>Conferences</h2><table id="conferences"><tr><th>SID</th><th>Name</th><th>Status</th>
<th>Participants</th></tr>{% for f in confs %}<tr><td>{{ f.sid }}</td><td>{{ f.friendly_name }}</td>
<td>{{ f.status }}</td><td>{{ f.participants|length }}</td></tr>{% endfor %}</table>
<h2>Streams</h2><table id="streams"><tr><th>SID</th><th>Call</th><th>Name</th><th>Track</th>
<th>Status</th><th>Error</th></tr>{% for s in streams %}<tr><td>{{ s.sid }}</td>
<td>{{ s.call_sid }}</td><td>{{ s.name or "" }}</td><td>{{ s.track }}</td><td>{{ s.status }}</td>
<td>{{ s.error or "" }}</td></tr>{% endfor %}
</table></body></html>"""


def create_sim_app(account_sid: str, auth_token: str, clock, start: bool = True,
                   strictness: Strictness | None = None) -> Flask:
    """A Flask app simulating Twilio Voice for one account; `start` runs the tick loop."""
    from . import control, rest

    app = Flask("twilio_sim")
    sim = Simulator(account_sid, auth_token, clock, strictness=strictness)
    app.extensions["twilio_sim"] = sim
    rest.register(app)
    control.register(app)

    @app.get("/")
    def status_page():
        calls = list(sim.store.calls.values())[-200:]
        confs = list(sim.store.conferences.values())[-100:]
        streams = [s for c in calls for s in c.streams]
        return render_template_string(STATUS_PAGE, sim=sim, calls=calls, confs=confs,
                                      streams=streams)

    if start:
        sim.start()
    return app
