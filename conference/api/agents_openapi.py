"""OpenAPI paths of the agents API, merged into /api/openapi.json by the admin API."""
from __future__ import annotations

from conference.ai.profiles import VOICES

_STR = {"type": "string"}
_NULLABLE = {"type": ["string", "null"]}
_FAQ = {"type": "array", "items": {"type": "object", "required": ["question", "answer"],
                                   "additionalProperties": False,
                                   "properties": {"question": _STR, "answer": _STR}}}
PROFILE_FIELDS = {
    "instructions": _STR, "voice": {"enum": list(VOICES)}, "greeting": _NULLABLE,
    "tools": {"type": "array", "items": _STR}, "faq": _FAQ, "backend": _NULLABLE,
}
PROFILE = {"type": "object", "properties": {"name": _STR, **PROFILE_FIELDS,
                                            "updated_at": _NULLABLE}}
PROFILE_UPDATE = {"type": "object", "additionalProperties": False, "properties": PROFILE_FIELDS}
ENTRY = {"type": "object", "properties": {
    "speaker": _STR, "role": _STR, "text": _STR, "source": {"enum": ["fork", "ai"]},
    "started_at": _STR, "ended_at": _NULLABLE}}
TRANSCRIPT = {"type": "object", "properties": {
    "conference": _STR, "entries": {"type": "array", "items": ENTRY},
    "summary": {"type": ["object", "null"], "properties": {
        "text": _STR, "method": {"enum": ["llm", "extractive"]}}}}}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERROR = _json({"$ref": "#/components/schemas/Error"}, "Error")

PATHS = {
    "/agents": {"get": {"summary": "The tenant's agent profiles (`default` always listed)",
                        "responses": {"200": _json({"type": "object", "properties": {
                            "agents": {"type": "array", "items": PROFILE}}}, "Profiles"),
                            "401": _ERROR}}},
    "/agents/{name}": {
        "get": {"summary": "One agent profile",
                "responses": {"200": _json(PROFILE, "The profile"), "401": _ERROR,
                              "404": _ERROR}},
        "put": {"summary": "Create or update a profile (omitted fields keep their value)",
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": PROFILE_UPDATE}}},
                "responses": {"200": _json(PROFILE, "Updated"), "201": _json(PROFILE, "Created"),
                              "401": _ERROR, "409": _ERROR, "422": _ERROR}},
    },
    "/conferences/{name}/transcript": {"get": {
        "summary": "The ordered, speaker-labelled transcript and the summary",
        "responses": {"200": _json(TRANSCRIPT, "Transcript"), "401": _ERROR, "404": _ERROR}}},
}
