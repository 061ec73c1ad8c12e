"""Tool declarations and strict argument validation shared by every backend."""
from __future__ import annotations

import pytest
from openai.types.realtime.realtime_function_tool import RealtimeFunctionTool

from agents import tools


def test_every_tool_declares_a_flat_ga_function_schema():
    for name in tools.TOOLS:
        declared = tools.schema(name)
        RealtimeFunctionTool.model_validate(declared)
        params = declared["parameters"]
        assert params["additionalProperties"] is False
        assert params["required"] == list(params["properties"])
    assert [s["name"] for s in tools.schemas(["lookup", "nope", "end_call"])] == [
        "lookup", "end_call"]


def test_valid_arguments_are_stripped():
    assert tools.validate("transfer_to_human", {"reason": "  billing  "}) == {"reason": "billing"}
    assert tools.validate("end_call", {}) == {}


@pytest.mark.parametrize("name,arguments,allowed,message", [
    ("transfer_to_human", {}, None, "'reason' must be a non-empty string"),
    ("transfer_to_human", {"reason": ["x"]}, None, "non-empty string"),
    ("whisper_to_agent", {"text": "x" * 501}, None, "longer than 500"),
    ("lookup", {"query": "q", "limit": 3}, None, "unexpected argument(s): limit"),
    ("end_call", [], None, "must be a JSON object"),
    ("end_call", {}, ("lookup",), "unknown tool 'end_call'"),
    ("rm_rf", {}, None, "unknown tool"),
])
def test_invalid_arguments_raise_with_a_message_for_the_model(name, arguments, allowed, message):
    with pytest.raises(tools.ToolArgumentError) as err:
        tools.validate(name, arguments, allowed)
    assert message in str(err.value)
    assert tools.error_output(str(err.value)) == {"ok": False, "error": str(err.value)}
