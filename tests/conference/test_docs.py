"""The README documents every environment variable; the Procfile follows the deploy rules."""
from __future__ import annotations

from pathlib import Path

from app import ENV_VARS

ROOT = Path(__file__).resolve().parents[2]


def test_readme_documents_every_variable():
    readme = (ROOT / "README.md").read_text()
    table = [line for line in readme.splitlines() if line.startswith("| `")]
    documented = " ".join(line.split("|")[1] for line in table)
    missing = [name for name in [*ENV_VARS, "PORT"] if f"`{name}`" not in documented]
    assert missing == []


def test_readme_has_commands_and_flow_diagram():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "```mermaid" in readme
    for route in ("/twilio/voice", "/twilio/ai/voice", "/api/openapi.json"):
        assert route in readme


def test_procfile():
    lines = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines()
                 if line.strip())
    web = lines["web"]
    assert "gunicorn" in web and "gevent" in web and "0.0.0.0:$PORT" in web
    assert "--preload" not in web
    assert "--no-control-socket" in web  # gunicorn 27: no shared ~/.gunicorn socket
    assert lines["release"].strip() == "flask --app app db upgrade"
