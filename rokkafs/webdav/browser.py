"""What a web browser gets at ``/dav/…``: a folder page with thumbnails and sizes.

Thumbnails are made with Pillow on first request (decoding is bounded by the store's pixel
limit) and cached under ``DATA/thumbnails/<binary hash>.jpg``; non-images get none.
"""

from __future__ import annotations

import html
import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from PIL import Image, ImageOps
from wsgidav.mw.base_mw import BaseMiddleware

from rokkafs.errors import RokkaFSError
from rokkafs.provider import Node

__all__ = ["Browser"]

THUMBNAIL = 160
_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td{{padding:4px 12px;border-bottom:1px solid #ddd;vertical-align:middle}}
img{{max-width:{size}px;max-height:{size}px;display:block}}</style></head>
<body><h1>{title}</h1><table>{rows}</table></body></html>"""


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    scaled = float(count)
    for unit in ("KiB", "MiB", "GiB"):
        scaled /= 1024
        if scaled < 1024 or unit == "GiB":
            break
    return f"{scaled:.1f} {unit}"


class Browser(BaseMiddleware):
    """A wsgidav middleware (in place of its dir browser) for GETs from web browsers."""

    def __init__(self, wsgidav_app: Any, next_app: Any, config: dict[str, Any]) -> None:
        super().__init__(wsgidav_app, next_app, config)
        self._next = next_app
        self._provider = config["provider_mapping"]["/"]
        self._cache = Path(config["rokkafs"]["data_dir"]) / "thumbnails"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/") or "/"
        # (a folder asked for by a client without Accept: text/html gets the page as well)
        wants_page = "text/html" in environ.get("HTTP_ACCEPT", "") or path.endswith("/")
        wants_thumbnail = environ.get("QUERY_STRING") == "thumbnail"
        if environ.get("REQUEST_METHOD") != "GET" or not (wants_page or wants_thumbnail):
            return self._next(environ, start_response)  # type: ignore[no-any-return]
        paths = self._provider.paths_for(environ)
        try:
            node = paths.stat(path)
        except RokkaFSError:
            return self._next(environ, start_response)  # type: ignore[no-any-return]
        if node.is_dir and wants_page:
            body = self._page(environ, path, paths.children(path)).encode()
            return self._send(start_response, "text/html; charset=utf-8", body)
        if not node.is_dir and wants_thumbnail:
            thumbnail = self._thumbnail(paths, path, node)
            if thumbnail is None:  # (PDF, EPS, SVG, non-images: never the whole original)
                body = b"no thumbnail for this file\n"
                return self._send(
                    start_response, "text/plain; charset=utf-8", body, "404 Not Found"
                )
            return self._send(start_response, "image/jpeg", thumbnail)
        return self._next(environ, start_response)  # type: ignore[no-any-return]

    @staticmethod
    def _send(
        start_response: Any, content_type: str, body: bytes, status: str = "200 OK"
    ) -> list[bytes]:
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    def _page(self, environ: dict[str, Any], path: str, children: list[Node]) -> str:
        base = environ.get("SCRIPT_NAME", "") + path.rstrip("/")
        rows = []
        if path.strip("/"):
            rows.append('<tr><td></td><td><a href="../">..</a></td><td></td></tr>')
        for child in sorted(children, key=lambda c: (not c.is_dir, c.name.lower())):
            href = f"{base}/{quote(child.name)}" + ("/" if child.is_dir else "")
            name = html.escape(child.name) + ("/" if child.is_dir else "")
            picture = (
                f'<img src="{href}?thumbnail" alt="">'
                if child.kind == "image" and child.image and child.image.width
                else ""
            )
            size = "" if child.is_dir else _size(child.size)
            rows.append(
                f'<tr><td>{picture}</td><td><a href="{href}">{name}</a></td><td>{size}</td></tr>'
            )
        title = html.escape(base + "/")
        return _PAGE.format(title=title, rows="".join(rows), size=THUMBNAIL)

    def _thumbnail(self, paths: Any, path: str, node: Node) -> bytes | None:
        if node.image is None or not node.image.width or node.image.format in ("svg", "pdf", "eps"):
            return None
        cached = self._cache / f"{node.image.binary_hash}.jpg"
        if cached.is_file():
            return cached.read_bytes()
        try:
            with paths.open(path) as source, Image.open(source) as image:
                image.draft("RGB", (THUMBNAIL, THUMBNAIL))
                small = ImageOps.exif_transpose(image).convert("RGB")
                small.thumbnail((THUMBNAIL, THUMBNAIL))
                out = io.BytesIO()
                small.save(out, "JPEG", quality=80)
        except (OSError, ValueError, RokkaFSError):
            return None
        self._cache.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(out.getvalue())
        os.replace(temporary, cached)
        return out.getvalue()
