"""Conditional requests wsgidav answers wrongly, answered right.

wsgidav 4.4 answers a GET with ``If-Modified-Since`` equal to the resource's own
``Last-Modified`` with 200 (it tests "later than" where RFC 9110 13.1.3 says "not modified
since": later or equal), so Finder, which revalidates with that header, downloads every
re-opened file again. :class:`Resolver` takes the place of wsgidav's ``RequestResolver`` and
serves requests with :class:`_Requests`, which adds the missing 304.
"""

from __future__ import annotations

from typing import Any

from wsgidav import util
from wsgidav.dav_error import HTTP_NOT_MODIFIED, DAVError
from wsgidav.request_resolver import RequestResolver
from wsgidav.request_server import RequestServer

__all__ = ["Resolver"]


class _Requests(RequestServer):
    def _evaluate_if_headers(self, res: Any, environ: dict[str, Any]) -> None:
        super()._evaluate_if_headers(res, environ)
        if (
            res is None
            or environ.get("REQUEST_METHOD") not in ("GET", "HEAD")
            or "HTTP_IF_MODIFIED_SINCE" not in environ
            or "HTTP_IF_NONE_MATCH" in environ  # (an entity tag decides then: RFC 9110 13.2.2)
            or res.get_last_modified() is None
        ):
            return
        since = util.parse_time_string(environ["HTTP_IF_MODIFIED_SINCE"])
        if since is not None and int(res.get_last_modified()) <= since:
            raise DAVError(HTTP_NOT_MODIFIED, "not modified since If-Modified-Since")


class Resolver(RequestResolver):
    """wsgidav's resolver, with :class:`_Requests` serving everything but ``OPTIONS *``."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        provider = environ.get("wsgidav.provider")
        if provider is None or environ.get("PATH_INFO") in ("*", "/"):
            return super().__call__(environ, start_response)
        return _Requests(provider)(environ, start_response)
