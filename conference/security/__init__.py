"""Request-level hardening: trusted proxies, body limits, destination rules, outbound calls."""


def init_app(app) -> None:
    """Install every request-level guard of this package."""
    from conference.security import bodies, proxy

    proxy.init_app(app)
    bodies.init_app(app)
