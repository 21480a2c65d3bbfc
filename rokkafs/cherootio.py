"""Bytes between cheroot and its sockets without cheroot's Python buffers
(docs/architecture.md#layers).

**Request bodies.** cheroot gives the application a body with a Content-Length through a
buffered reader written in Python (``_pyio``): each read of n bytes allocates and
zero-fills a buffer of n bytes for every ``recv`` and joins the pieces afterwards. For an
upload read in 1 MiB pieces that cost more than the rest of the request: 400 PUTs of
256 KiB to a WSGI app that only reads the body took 0.42-0.56 s on this project's 2-CPU
test machine (one client or eight), and 0.25-0.3 s received into a buffer as here.

:class:`SocketBody` takes the bytes cheroot has buffered already (the end of the header
packet) and then receives the rest straight into the caller's buffer. It replaces
``wsgi.input`` only where that is cheroot's body of a known length over its own socket
reader; a chunked body, or any other server, keeps what it had.

**Answers.** cheroot writes what the application returns through a buffered writer of the
same kind: each piece is copied into its buffer, copied again into a ``bytes`` object per
``send``, and what the socket did not take is moved to the buffer's front. A
:class:`Connection` (the server's ``ConnectionClass``) sends each piece from where it is,
one ``send`` after the other, each with the server's timeout, as cheroot's own writer does
(``sendall`` would apply the timeout to the whole piece and cut off slow clients; over TLS
Python sends a piece whole in one ``send``, as it did through cheroot's writer). Measured
the same way: 400 GETs of 256 KiB from one client 0.23-0.29 s instead of 0.35-0.44 s.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from cheroot.makefile import MakeFile, StreamReader
from cheroot.server import HTTPConnection, KnownLengthRFile

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["PIECE_BYTES", "Connection", "SocketBodies", "SocketBody", "SocketWriter"]

PIECE_BYTES = 1 << 20


class SocketBody(io.RawIOBase):
    """The rest of one request body (``remaining`` bytes), read without cheroot's buffer."""

    def __init__(self, body: KnownLengthRFile, stream: StreamReader) -> None:
        super().__init__()
        self._body = body
        self._stream = stream
        self._buffered: Callable[[], bool] = stream.has_data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        """Fill the start of ``buffer`` with what arrives next (at least one byte until the
        body ends; 0 at its end or when the client has gone)."""
        view = memoryview(buffer).cast("B")[: self._body.remaining]
        if not view:
            return 0
        if self._buffered():  # (bytes that came with the headers)
            data = self._stream.read1(len(view))
            view[: len(data)] = data
            received = len(data)
        else:
            received = self._stream.raw.readinto(view) or 0
        self._body.remaining -= received
        return received

    def fill(self, buffer: memoryview) -> int:
        """Fill ``buffer`` (fewer bytes only where the body ends); the number of bytes."""
        filled = 0
        while filled < len(buffer):
            received = self.readinto(buffer[filled:])
            if not received:
                break
            filled += received
        return filled

    def read(self, size: int | None = -1) -> bytes:
        """``size`` bytes (all that is left if None or negative), fewer only at the end;
        received in pieces of at most :data:`PIECE_BYTES`, so memory grows only with the
        bytes that arrive, not with a length a client declares."""
        wanted = min(self._body.remaining if size is None or size < 0 else size,
                     self._body.remaining)  # fmt: skip
        pieces = []
        while wanted > 0:
            asked = min(wanted, PIECE_BYTES)
            buffer = bytearray(asked)
            with memoryview(buffer) as view:
                filled = self.fill(view)
            del buffer[filled:]
            pieces.append(bytes(buffer))
            wanted -= filled
            if filled < asked:  # (the body ended)
                break
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def readall(self) -> bytes:
        return self.read(-1)

    def readline(self, size: int | None = -1) -> bytes:
        line: bytes = self._body.readline(None if size is None or size < 0 else size)
        return line

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        return list(self._lines())

    def __iter__(self) -> Iterator[bytes]:
        return self._lines()

    def _lines(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line


class SocketBodies:
    """WSGI middleware: a body of a known length comes as a :class:`SocketBody` over plain
    HTTP. Over TLS cheroot's reader stays: the end of a body and the next pipelined request
    can arrive in one TLS record, and what the socket decrypted beyond the body would wait
    unseen in the TLS layer (cheroot only asks its own buffer whether more is there)."""

    def __init__(self, app: Any) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = environ.get("wsgi.input")
        if (
            environ.get("wsgi.url_scheme") == "http"  # (not over TLS: see above)
            and type(body) is KnownLengthRFile
            and type(body.rfile) is StreamReader
        ):
            environ["wsgi.input"] = SocketBody(body, body.rfile)
        result: Iterable[bytes] = self._app(environ, start_response)
        return result


class SocketWriter:
    """What cheroot writes answers to: every piece is sent from where it is."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.bytes_written = 0

    def write(self, data: bytes) -> int:
        with memoryview(data) as view:
            sent = 0
            while sent < len(view):
                sent += self._sock.send(view[sent:])
        self.bytes_written += sent
        return sent

    def flush(self) -> None:
        """Nothing waits: every write has been sent."""

    def close(self) -> None:
        """The socket is the connection's to close."""


class Connection(HTTPConnection):
    """cheroot's connection, writing its answers through a :class:`SocketWriter`."""

    def __init__(self, server: Any, sock: socket.socket, makefile: Any = MakeFile) -> None:
        super().__init__(server, sock, makefile)
        self.wfile = SocketWriter(sock)
