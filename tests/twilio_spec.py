"""Validate Twilio REST requests and responses against Twilio's own OpenAPI document.

The spec is fetched by `make install` into `.cache/twilio-oai/twilio_api_v2010.json` (from the
pinned npm package `@twilio-alpha/mcp`); the environment variable TWILIO_OAI_SPEC may name another
copy.
A request must hit a declared path and method, use only declared parameter names, carry every
required one, and keep enum-typed values legal; a response body may hold only declared keys
with legal enum values.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC_PATH = REPO_ROOT / ".cache" / "twilio-oai" / "twilio_api_v2010.json"
SPEC_PATH = Path(os.environ.get("TWILIO_OAI_SPEC") or DEFAULT_SPEC_PATH)
# Enum-like values Twilio documents only in prose, e.g. "Can be: `true`, `false`, or `onEnter`."
_PROSE_ENUM = re.compile(r"Can be:? ((?:`[^`]+`[,;]?\s*(?:or|and)?\s*)+)")
_BOOLS = {"true", "false"}


@dataclass(frozen=True)
class Operation:
    """One (path template, method) of the spec."""

    template: str
    method: str
    operation_id: str
    spec: dict
    path_params: dict


@cache
def load_spec() -> dict:
    """The parsed OpenAPI document (cached)."""
    if not SPEC_PATH.is_file():
        raise FileNotFoundError(f"Twilio's OpenAPI spec is missing at {SPEC_PATH}: "
                                "run `make install` (or set TWILIO_OAI_SPEC)")
    return json.loads(SPEC_PATH.read_text())


def resolve(schema: dict) -> dict:
    """Follow a local $ref to its schema."""
    while "$ref" in schema:
        node = load_spec()
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


@cache
def _templates() -> list[tuple[re.Pattern, str]]:
    out = []
    for template in load_spec()["paths"]:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        out.append((re.compile(f"^{regex}$"), template))
    return out


def find_operation(method: str, path: str) -> tuple[Operation | None, list[str]]:
    """The operation for `method path`, or None with the reason."""
    for regex, template in _templates():
        match = regex.match(path)
        if not match:
            continue
        op = load_spec()["paths"][template].get(method.lower())
        if op is None:
            return None, [f"{method} not allowed on {template}"]
        return Operation(template, method.upper(), op["operationId"], op, match.groupdict()), []
    return None, [f"no such path {path}"]


def _prose_enum(schema: dict) -> set[str] | None:
    match = _PROSE_ENUM.search(schema.get("description", ""))
    values = set(re.findall(r"`([^`]+)`", match.group(1))) if match else set()
    return values if len(values) >= 2 else None


def check_value(name: str, value: str, schema: dict) -> list[str]:
    """Violations of one form/query/path value against its parameter schema."""
    schema = resolve(schema)
    kind = schema.get("type")
    if kind == "array":
        items = dict(resolve(schema.get("items", {})))
        items.setdefault("description", schema.get("description", ""))
        return check_value(name, value, items)
    problems = []
    if kind == "boolean" and value not in _BOOLS:
        problems.append(f"{name}={value!r} is not a boolean")
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        problems.append(f"{name}={value!r} is not an integer")
    enum = schema.get("enum") or (_prose_enum(schema) if kind == "string" else None)
    if enum and value not in enum:
        problems.append(f"{name}={value!r} is not one of {sorted(enum)}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        problems.append(f"{name}={value!r} does not match {schema['pattern']}")
    if "minLength" in schema and len(value) < schema["minLength"]:
        problems.append(f"{name}={value!r} is shorter than {schema['minLength']}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        problems.append(f"{name}={value!r} is longer than {schema['maxLength']}")
    return problems


def validate_request(method: str, path: str, params: dict[str, list[str]]) -> list[str]:
    """Every violation of the spec by a request (empty when it conforms)."""
    op, problems = find_operation(method, path)
    if op is None:
        return problems
    for param in op.spec.get("parameters", []):
        if param["in"] == "path":
            problems += check_value(param["name"], op.path_params[param["name"]], param["schema"])
    if op.method in ("GET", "DELETE"):
        declared = {p["name"]: p for p in op.spec.get("parameters", []) if p["in"] == "query"}
        for name, values in params.items():
            if name not in declared:
                problems.append(f"undeclared query parameter {name}")
                continue
            for value in values:
                problems += check_value(name, value, declared[name]["schema"])
        return problems
    body = op.spec.get("requestBody", {}).get("content", {})
    schema = resolve(body.get("application/x-www-form-urlencoded", {}).get("schema", {}))
    properties = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in params:
            problems.append(f"required parameter {name} is missing")
    for name, values in params.items():
        if name not in properties:
            problems.append(f"undeclared parameter {name}")
            continue
        for value in values:
            problems += check_value(name, value, properties[name])
    return problems


def response_schema(op: Operation, status: int) -> dict | None:
    """The JSON schema of the `status` response of `op`, if it has a body."""
    response = op.spec["responses"].get(str(status))
    if response is None or "content" not in response:
        return None
    return resolve(response["content"]["application/json"]["schema"])


def validate_response(op: Operation, status: int, body: dict | None) -> list[str]:
    """Every violation of the spec by a response body."""
    if str(status) not in op.spec["responses"]:
        return [f"{op.operation_id} does not declare status {status}"]
    schema = response_schema(op, status)
    if schema is None:
        return [] if body is None else [f"{op.operation_id} {status} declares no body"]
    return check_object(op.operation_id, body, schema)


def check_object(where: str, body: dict, schema: dict) -> list[str]:
    """Undeclared keys and illegal enum values in a JSON object."""
    problems = []
    properties = schema.get("properties", {})
    for key, value in body.items():
        if key not in properties:
            problems.append(f"{where}: undeclared key {key}")
            continue
        prop = resolve(properties[key])
        if value is None:
            continue
        if "enum" in prop and value not in prop["enum"]:
            problems.append(f"{where}.{key}={value!r} is not one of {prop['enum']}")
        if prop.get("type") == "boolean" and not isinstance(value, bool):
            problems.append(f"{where}.{key}={value!r} is not a boolean")
        if prop.get("type") == "string" and "enum" not in prop and not isinstance(value, str):
            problems.append(f"{where}.{key}={value!r} is not a string")
    return problems
