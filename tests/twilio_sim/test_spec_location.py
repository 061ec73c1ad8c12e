"""Where the stand-ins' OpenAPI spec comes from: `make install`'s cache, or TWILIO_OAI_SPEC."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import twilio_spec

TESTS = Path(__file__).resolve().parents[1]


def _spec_path_in_child(env_value: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TWILIO_OAI_SPEC"}
    if env_value is not None:
        env["TWILIO_OAI_SPEC"] = env_value
    code = ("import twilio_spec\nprint(twilio_spec.SPEC_PATH)\n"
            "try:\n    twilio_spec.load_spec()\nexcept FileNotFoundError as e:\n    print(e)")
    return subprocess.run([sys.executable, "-c", code], cwd=TESTS, env=env, capture_output=True,
                          text=True, timeout=60)


def test_the_default_is_the_ignored_cache_folder_filled_by_make_install():
    assert twilio_spec.DEFAULT_SPEC_PATH.parts[-3:] == (".cache", "twilio-oai",
                                                        "twilio_api_v2010.json")
    assert ".." not in twilio_spec.DEFAULT_SPEC_PATH.parts  # nothing beside the repository
    out = _spec_path_in_child(None).stdout.splitlines()
    assert out == [str(twilio_spec.DEFAULT_SPEC_PATH)]


def test_twilio_oai_spec_overrides_and_a_missing_file_says_how_to_get_it(tmp_path):
    missing = tmp_path / "nope.json"
    out = _spec_path_in_child(str(missing)).stdout.splitlines()
    assert out[0] == str(missing)
    assert "make install" in out[1] and "TWILIO_OAI_SPEC" in out[1]
