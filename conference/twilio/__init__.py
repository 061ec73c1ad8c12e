"""The door out and the protocol: REST gateway, signatures, TwiML, URLs, stream parameters."""
