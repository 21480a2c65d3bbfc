"""Reading rokka's request payloads: multipart uploads and JSON bodies.

rokka's clients send metadata in several spellings; all are accepted:

* the file part under any field name (``filedata`` from most clients, ``filename`` from Go),
  matched to metadata by order;
* ``meta_user[0]`` as a JSON object — also JSON-encoded twice, as rokka.js does;
* ``meta_dynamic[0]`` as one object ``{name: entry}`` or per entry as ``meta_dynamic[0][name]``;
* ``url[0]``, ``url[1]``… for uploads by URL; ``optimize_source`` (``true``/``jpg``/``png``);
  ``options[0]`` with ``{"protected": true}``.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from typing import IO, Any, cast

from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.exceptions import ClientDisconnected
from werkzeug.wrappers import Request

from rokkafs.cherootio import SocketBody
from rokkafs.errors import InvalidInput
from rokkafs.store.config import OptimizeSource

__all__ = ["ApiRequest", "UploadItem", "json_body", "parse_upload"]

_INDEXED = re.compile(r"^(?P<field>[a-z_]+)\[(?P<index>\d*)\](?:\[(?P<key>[a-z_]+)\])?$")
MAX_JSON_BODY = 1 << 20


class _CountedInput:
    """The request body as the server gives it, counting the bytes that arrive."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.received = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.received += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self._stream.readline(size)
        self.received += len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        """Into the parser's buffer: straight from the socket where the server's body can
        (:class:`rokkafs.cherootio.SocketBody`), else through :meth:`read`."""
        if not isinstance(self._stream, SocketBody):
            data = self.read(len(buffer))  # (counted there)
            buffer[: len(data)] = data
            return len(data)
        received = self._stream.readinto(buffer)
        self.received += received
        return received


class ApiRequest(Request):
    """werkzeug's request that can tell a body cut short (werkzeug parses forms silently) and
    closes every file part it spooled, also those of a body that broke off (werkzeug drops
    them unclosed)."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self._counted = _CountedInput(environ["wsgi.input"])
        environ["wsgi.input"] = self._counted
        super().__init__(environ)
        self._spooled: list[IO[bytes]] = []

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        spooled = super()._get_file_stream(
            total_content_length, content_type, filename, content_length
        )
        self._spooled.append(spooled)
        return spooled

    def require_whole_body(self) -> None:
        """Raise unless the whole declared body arrived (reads what the parser left over).

        Raises:
            InvalidInput: the body ended before its ``Content-Length``.
        """
        declared = self.content_length
        with contextlib.suppress(ClientDisconnected):
            _ = self.form  # (parsed first, so the parser consumed what it wanted)
            while self.stream.read(1 << 20):  # (what is left, in pieces: memory stays flat)
                pass
        if declared is not None and self._counted.received < declared:
            raise InvalidInput(
                f"the upload ended after {self._counted.received} of {declared} bytes"
            )

    def close(self) -> None:
        super().close()
        for spooled in self._spooled:
            spooled.close()


@dataclass
class UploadItem:
    """One image of an upload request: a file part or a URL, with its metadata."""

    file: IO[bytes] | None = None
    filename: str | None = None
    url: str | None = None
    user_metadata: dict[str, object] = field(default_factory=dict)
    dynamic_metadata: dict[str, object] = field(default_factory=dict)
    protected: bool = False


def _decode_json(raw: str, what: str) -> Any:
    try:
        value = json.loads(raw)
        if isinstance(value, str):  # rokka.js encodes metadata twice
            value = json.loads(value)
    except ValueError:
        raise InvalidInput(f"{what} is not valid JSON") from None
    return value


def _object(raw: str, what: str) -> dict[str, object]:
    value = _decode_json(raw, what)
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a JSON object")
    return value


def parse_upload(
    form: MultiDict[str, str], files: MultiDict[str, FileStorage]
) -> tuple[list[UploadItem], OptimizeSource | None]:
    """Pair file parts and URLs with their metadata, in order.

    Raises:
        InvalidInput: no file and no URL, malformed JSON, unknown ``optimize_source``.
    """
    items: list[UploadItem] = [
        UploadItem(file=part.stream, filename=part.filename or "unnamed")
        for _, part in files.items(multi=True)
    ]
    urls = sorted(
        (int(m.group("index") or 0), value)
        for key, value in form.items(multi=True)
        if (m := _INDEXED.match(key)) and m.group("field") == "url"
    )
    items += [UploadItem(url=url) for _, url in urls]
    if not items:
        raise InvalidInput("no file part (filedata) and no url[0] in the upload")
    for key, value in form.items(multi=True):
        match = _INDEXED.match(key)
        if match is None or match.group("field") == "url":
            continue
        index = int(match.group("index") or 0)
        if index >= len(items):
            raise InvalidInput(f"{key} refers to no uploaded file")
        item, name = items[index], match.group("field")
        if name == "meta_user":
            item.user_metadata = _object(value, key)
        elif name == "meta_dynamic" and match.group("key"):
            item.dynamic_metadata[match.group("key")] = _decode_json(value, key)
        elif name == "meta_dynamic":
            item.dynamic_metadata.update(_object(value, key))
        elif name == "options":
            item.protected = bool(_object(value, key).get("protected", False))
    return items, _optimize_source(form.get("optimize_source"))


def _optimize_source(raw: str | None) -> OptimizeSource | None:
    if raw in (None, "", "false"):
        return None
    value = str(_decode_json(raw, "optimize_source")).lower() if raw.startswith('"') else raw
    if value not in ("true", "jpg", "png"):
        raise InvalidInput("optimize_source must be true, jpg or png")
    return cast(OptimizeSource, value)


def json_body(request: Request) -> Any:
    """The request's JSON body (at most 1 MiB).

    Raises:
        InvalidInput: missing, too large or malformed.
    """
    if (request.content_length or 0) > MAX_JSON_BODY:
        raise InvalidInput("the JSON body is larger than 1 MiB")
    raw = request.stream.read(MAX_JSON_BODY + 1)
    if len(raw) > MAX_JSON_BODY:
        raise InvalidInput("the JSON body is larger than 1 MiB")
    try:
        return json.loads(raw)
    except ValueError:
        raise InvalidInput("the body is not valid JSON") from None
