"""Building responses the way rokka sends them."""

from __future__ import annotations

import json
from contextvars import ContextVar

from werkzeug.wrappers import Response

from rokkafs.model import SourceImage
from rokkafs.rokka.wire import source_image_to_rokka

__all__ = ["EXTENSIONS", "empty", "image_response", "json_response"]

EXTENSIONS: ContextVar[bool] = ContextVar("rokkafs_extensions", default=False)
"""Whether the current request asked for rokkafs's extensions (header X-Rokkafs-Extensions)."""


def json_response(
    data: object, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status=status, headers=headers, content_type="application/json")


def image_response(image: SourceImage, status: int = 200, **kw: bool) -> Response:
    """One source image in rokka's JSON."""
    return json_response(source_image_to_rokka(image, extensions=EXTENSIONS.get(), **kw), status)


def empty(status: int = 204) -> Response:
    """An empty response (204 unless told otherwise)."""
    return Response(status=status)
