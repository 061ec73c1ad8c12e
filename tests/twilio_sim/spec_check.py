"""Check simulator responses against Twilio's OpenAPI spec (api v2010): shapes, types, enums."""
from __future__ import annotations

import json
import re
from functools import lru_cache

from twilio_spec import load_spec  # tests/ is on sys.path: one spec loader for both stand-ins

_TYPES = {"string": str, "integer": int, "boolean": bool, "object": dict, "array": list,
          "number": (int, float)}


@lru_cache(maxsize=1)
def spec() -> dict:
    """The parsed spec (loaded once; see tests/twilio_spec.py for where it comes from)."""
    return load_spec()


@lru_cache(maxsize=1)
def _templates() -> list[tuple[re.Pattern, str]]:
    out = []
    for template in spec()["paths"]:
        pattern = re.escape(template)
        pattern = re.sub(r"\\\{[A-Za-z]+\\\}", r"[^/]+", pattern)
        out.append((re.compile(f"^{pattern}$"), template))
    return out


def operation(path: str, method: str) -> tuple[str, dict]:
    """(path template, operation object) for a concrete request path."""
    path = path.split("?")[0]
    for pattern, template in _templates():
        if pattern.match(path):
            op = spec()["paths"][template].get(method.lower())
            if op is not None:
                return template, op
    raise AssertionError(f"no spec operation for {method} {path}")


def resolve(schema: dict) -> dict:
    """Follow a local $ref."""
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec()["components"]["schemas"][name]
    return schema


def validate(value, schema: dict, where: str = "$") -> list[str]:
    """Problems of `value` against `schema` (no undeclared keys, types, enums, nullability)."""
    # Enum-typed fields are $refs without `nullable`, yet documented as null when not set.
    via_ref = "$ref" in schema
    schema = resolve(schema)
    if value is None:
        return [] if schema.get("nullable") or via_ref else [f"{where}: null"]
    problems = []
    kind = schema.get("type")
    if kind and not isinstance(value, _TYPES[kind]) or (kind == "integer" and
                                                       isinstance(value, bool)):
        return [f"{where}: expected {kind}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} not in enum {schema['enum']}")
    if kind == "object" and "properties" in schema:
        for key in value:
            if key not in schema["properties"]:
                problems.append(f"{where}.{key}: undeclared key")
        for key, sub in schema["properties"].items():
            if key in value:
                problems.extend(validate(value[key], sub, f"{where}.{key}"))
    if kind == "array" and "items" in schema:
        for i, item in enumerate(value):
            problems.extend(validate(item, schema["items"], f"{where}[{i}]"))
    return problems


def check_response(method: str, path: str, status: int, body: str) -> dict | None:
    """Assert the status is a declared success code and the JSON body matches its schema."""
    template, op = operation(path, method)
    responses = op["responses"]
    assert str(status) in responses, f"{method} {template}: status {status} not declared"
    content = responses[str(status)].get("content")
    if content is None:
        assert body == "", f"{method} {template}: expected an empty body"
        return None
    data = json.loads(body)
    problems = validate(data, content["application/json"]["schema"])
    assert not problems, f"{method} {template}: " + "; ".join(problems)
    return data


def check_request_params(method: str, path: str, form: dict) -> list[str]:
    """Form keys the spec does not declare for this operation (for the fuzz test's inputs)."""
    _, op = operation(path, method)
    body = op.get("requestBody", {}).get("content", {})
    props = body.get("application/x-www-form-urlencoded", {}).get("schema", {}).get(
        "properties", {})
    return [k for k in form if k not in props]
