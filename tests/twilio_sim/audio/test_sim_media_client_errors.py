"""Media Streams client: connection failures reported with Twilio's error codes."""
from __future__ import annotations

import socket

import pytest
from sim_stream_client import StatusLog, make_client
from sim_ws_app_server import AppServer

from twilio_sim.media_client import StreamConnectError


@pytest.mark.parametrize(("url", "code"), [("http://127.0.0.1:1/x", 31922),
                                           ("wss:///nohost", 31923)])
def test_bad_urls_fail_with_twilio_codes(url, code):
    status = StatusLog()
    with pytest.raises(StreamConnectError) as info:
        make_client(url, on_status=status).connect()
    assert info.value.code == code
    assert status.next()[1:] == ("stream-error", str(info.value))


def test_refused_connection_is_31902():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connections are refused
        with pytest.raises(StreamConnectError) as info:
            make_client(f"ws://127.0.0.1:{port}/x").connect()
    assert info.value.code == 31902


def test_rejected_upgrade_is_31920():
    server = AppServer(reject_status=403)
    try:
        with pytest.raises(StreamConnectError) as info:
            make_client(server.url()).connect()
        assert info.value.code == 31920 and "403" in str(info.value)
    finally:
        server.close()
