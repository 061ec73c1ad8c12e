"""Fixtures for the simulator's audio-plane tests."""
from __future__ import annotations

import pytest
from sim_ws_app_server import AppServer


@pytest.fixture
def app_server():
    server = AppServer()
    yield server
    server.close()
