"""rokka's REST API over a Store, as a WSGI application (werkzeug)."""

from rokkafs.api.app import make_app

__all__ = ["make_app"]
