"""SQLAlchemy 2.0 typed models and the session lifecycle; never imports conference or agents."""
from models.db import Base, get_engine, get_session, init_app, transaction

__all__ = ["Base", "get_engine", "get_session", "init_app", "transaction"]
