"""cheroot without its Python buffers (rokkafs.cherootio), on a real cheroot server: every
byte of a request body arrives once, in order, in every way an application reads, a
keep-alive connection's next request is left alone, and answers arrive whole, also at a
client slower than the server's timeout allows for the whole answer."""

from __future__ import annotations

import hashlib
import os
import socket
import ssl
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from davsupport import make_certificate

from rokkafs.cherootio import Connection, SocketBodies, SocketBody
from rokkafs.server import running_server

SIZES = [0, 1, 100, 8191, 8192, 8193, 65536 + 7, (1 << 20) + 3, (3 << 20) + 11]


def _read_all(body: Any) -> bytes:
    return bytes(body.read())


def _read_blocks(body: Any) -> bytes:
    pieces = []
    while piece := body.read(5000):
        pieces.append(piece)
    return b"".join(pieces)


def _fill(body: Any) -> bytes:
    view = memoryview(bytearray(70_000))
    pieces = []
    while filled := body.fill(view):
        pieces.append(bytes(view[:filled]))
    return b"".join(pieces)


def _lines(body: Any) -> bytes:
    first = body.readline()
    return first + b"".join(body)  # (iteration goes on where readline stopped)


READERS: dict[str, Callable[[Any], bytes]] = {
    "read": _read_all,
    "read-5000": _read_blocks,
    "fill": _fill,
    "lines": _lines,
}


ANSWER_PIECE = os.urandom(1 << 20)


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    if environ["REQUEST_METHOD"] == "GET":  # /N/K: N bytes in pieces of K MiB or less
        size, piece_mib = map(int, environ["PATH_INFO"].strip("/").split("/"))
        start_response("200 OK", [("Content-Length", str(size))])
        return list(_pieces(size, piece_mib))
    body = environ["wsgi.input"]
    reader = environ["PATH_INFO"].strip("/")
    if reader == "traced":
        tracemalloc.start()
        data = _read_all(body)
        traced = f" {tracemalloc.get_traced_memory()[1]}"
        tracemalloc.stop()
    else:
        data, traced = READERS[reader](body), ""
    answer = f"{type(body).__name__} {len(data)} {hashlib.sha1(data).hexdigest()}{traced}".encode()
    start_response("200 OK", [("Content-Length", str(len(answer)))])
    return [answer]


def _pieces(size: int, piece_mib: int) -> Iterator[bytes]:
    piece = ANSWER_PIECE * piece_mib
    for start in range(0, size, len(piece)):
        yield piece[: size - start]


def _two_answers(sock: socket.socket, requests: bytes, reader: bytes) -> bytes:
    """Send two requests in one write; what comes back until both are answered."""
    sock.sendall(requests)
    received = b""
    while received.count(reader) < 2:
        chunk = sock.recv(65536)
        assert chunk, received
        received += chunk
    return received


def _cut_short(url: str, path: str, declared: int, data: bytes) -> bytes:
    """A PUT declaring ``declared`` bytes whose client sends ``data`` and stops; the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            f"PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {declared}\r\n\r\n".encode()
        )
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)  # (the client stops sending)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    server = wsgi.Server(("127.0.0.1", 0), SocketBodies(_app), numthreads=4)
    server.ConnectionClass = Connection  # (as rokkafs.server.make_server sets it)
    server.timeout = 1
    with running_server(server) as base:
        yield base


@pytest.mark.parametrize("reader", sorted(READERS))
def test_every_byte_arrives_once_in_order(url: str, reader: str) -> None:
    with httpx.Client(timeout=30) as client:  # (one connection: requests follow each other)
        for size in SIZES:
            data = os.urandom(size).replace(b"\n", b"\r") + b"\nend\n" if size else b""
            answer = client.put(f"{url}/{reader}", content=data).text.split()
            assert answer == [SocketBody.__name__, str(len(data)), hashlib.sha1(data).hexdigest()]


def test_the_next_request_on_the_connection_is_left_alone(url: str) -> None:
    """Two requests in one packet: the first body's reader must stop at its end."""
    host, port = url.removeprefix("http://").split(":")
    first, second = b"a" * 10, b"b" * 20
    with socket.create_connection((host, int(port))) as sock:
        received = _two_answers(
            sock,
            b"PUT /fill HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n" + first
            + b"PUT /read HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n" + second,
            b"SocketBody",
        )  # fmt: skip
    assert f"SocketBody 10 {hashlib.sha1(first).hexdigest()}".encode() in received
    assert f"SocketBody 20 {hashlib.sha1(second).hexdigest()}".encode() in received


def test_a_length_declared_but_never_sent_takes_no_memory(url: str) -> None:
    """read() with a declared 200 MB of which 12,345 bytes come: what the read allocates
    follows the bytes that arrive, not the declared length (traced inside the application;
    cheroot's own read-off of the rest afterwards is cheroot's)."""
    received = _cut_short(url, "/traced", 200_000_000, b"y" * 12_345)
    answer = received.split(b"\r\n\r\n", 1)[1].split()
    assert answer[:3] == [b"SocketBody", b"12345", hashlib.sha1(b"y" * 12_345).hexdigest().encode()]
    assert int(answer[3]) < 5_000_000  # (bytes allocated at most while reading)


def test_over_tls_pipelined_requests_are_answered(tmp_path: Path) -> None:
    """Over TLS cheroot's own reader stays: two requests in one TLS record both get their
    answer (read straight from the socket, the second would wait in the TLS layer)."""
    cert, key = make_certificate(tmp_path)
    server = wsgi.Server(("127.0.0.1", 0), SocketBodies(_app), numthreads=2)
    server.ConnectionClass = Connection
    server.ssl_adapter = BuiltinSSLAdapter(str(cert), str(key))
    server.timeout = 5
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    with running_server(server) as base:
        host, port = base.removeprefix("https://").split(":")
        with (
            socket.create_connection((host, int(port))) as raw,
            context.wrap_socket(raw) as sock,
        ):
            sock.settimeout(3)  # (a stall fails the test instead of hanging it)
            received = _two_answers(
                sock,
                b"PUT /read-5000 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                + b"PUT /read HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nde",
                b"KnownLengthRFile",
            )  # fmt: skip
    assert f"KnownLengthRFile 3 {hashlib.sha1(b'abc').hexdigest()}".encode() in received
    assert f"KnownLengthRFile 2 {hashlib.sha1(b'de').hexdigest()}".encode() in received


def test_a_chunked_body_keeps_the_servers_reader(url: str) -> None:
    data = os.urandom(100_000)
    answer = httpx.put(f"{url}/read", content=iter([data[:40_000], data[40_000:]])).text.split()
    assert answer[0] != SocketBody.__name__
    assert answer[1:] == [str(len(data)), hashlib.sha1(data).hexdigest()]


def test_a_body_cut_short_ends_early_without_error(url: str) -> None:
    received = _cut_short(url, "/read-5000", 50_000, b"x" * 12_345)
    assert f"SocketBody 12345 {hashlib.sha1(b'x' * 12_345).hexdigest()}".encode() in received


def test_answers_arrive_whole(url: str) -> None:
    with httpx.Client(timeout=30) as client:
        for size in (0, 1, 5000, 1 << 20, (3 << 20) + 5):
            answer = client.get(f"{url}/{size}/1").content
            assert answer == b"".join(_pieces(size, 1))


def test_a_slow_client_gets_the_whole_answer(url: str) -> None:
    """One piece of 32 MiB read at about 10 MiB/s takes over 3 s, more than the sockets'
    buffers hold, with a server timeout of 1 s: each send must have the timeout to itself,
    not the whole piece (as ``sendall`` would)."""
    received = hashlib.sha1()
    size = 0
    with httpx.stream("GET", f"{url}/{32 << 20}/32", timeout=30) as response:
        for chunk in response.iter_bytes(1 << 20):
            received.update(chunk)
            size += len(chunk)
            time.sleep(0.1)
    assert size == 32 << 20
    assert received.hexdigest() == hashlib.sha1(ANSWER_PIECE * 32).hexdigest()
