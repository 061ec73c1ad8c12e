"""Request-level hardening: the trusted-proxy model, body limits, and hardened parsing."""


def init_app(app) -> None:
    """Install every request-level guard of this package."""
    from conference.security import bodies, limits, proxy

    proxy.init_app(app)
    bodies.init_app(app)
    limits.init_app(app)
