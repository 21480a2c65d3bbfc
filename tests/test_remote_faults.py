"""RemoteStore under faults: a transport that injects timeouts, errors, malformed and cut-short
answers in front of a real rokkafs server; each ends as the right error, nothing half-applied."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import images
import pytest

from rokkafs.errors import (
    AuthenticationFailed,
    BackendError,
    BackendUnavailable,
    ImageNotFound,
    Locked,
    NotPermitted,
)
from rokkafs.server import make_server, running_server
from rokkafs.store.local import LocalStore
from rokkafs.store.remote import RemoteStore

KEY = "f" * 64
Fault = Callable[[httpx.Request], httpx.Response | None]


class FaultyTransport(httpx.BaseTransport):
    """Forwards to the real server unless a fault rule answers first."""

    def __init__(self) -> None:
        self.real = httpx.HTTPTransport()
        self.faults: list[tuple[str, str, Fault]] = []
        self.seen: list[str] = []

    def inject(self, method: str, path_part: str, fault: Fault) -> None:
        self.faults.append((method, path_part, fault))

    def close(self) -> None:
        self.real.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(f"{request.method} {request.url.path}")
        for method, part, fault in self.faults:
            if request.method == method and part in request.url.path:
                answer = fault(request)
                if answer is not None:
                    return answer
        return self.real.handle_request(request)


def timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("injected timeout", request=request)


def status(code: int, body: bytes = b"{}", headers: dict[str, str] | None = None) -> Fault:
    return lambda request: httpx.Response(code, content=body, headers=headers)


class CutStream(httpx.SyncByteStream):
    def __iter__(self) -> Iterator[bytes]:
        yield b"\x89PNG partial"
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalStore]:
    store = LocalStore(tmp_path / "data")
    store.create_organization("acme")
    yield store
    store.close()


@pytest.fixture
def faulty(local: LocalStore, tmp_path: Path) -> Iterator[tuple[RemoteStore, FaultyTransport]]:
    transport = FaultyTransport()
    with running_server(make_server(local, lambda: [KEY], port=0, threads=4)) as url:
        remote = RemoteStore(
            url,
            KEY,
            httpx.Client(transport=transport, timeout=5),
            cache_dir=tmp_path / "cache",
            cache_seconds=0,
        )
        yield remote, transport
        remote.close()


def test_reads_are_retried_then_give_up(faulty: tuple[RemoteStore, FaultyTransport]) -> None:
    remote, transport = faulty
    transport.inject("GET", "/organizations/acme", timeout)
    with pytest.raises(BackendUnavailable, match="injected timeout"):
        remote.get_organization("acme")
    assert transport.seen.count("GET /organizations/acme") == 4


def test_retry_after_is_honoured(faulty: tuple[RemoteStore, FaultyTransport]) -> None:
    remote, transport = faulty
    answers = iter([status(503, headers={"Retry-After": "0"}), status(429)])
    transport.inject("GET", "/organizations/acme", lambda r: next(answers, lambda _: None)(r))
    assert remote.get_organization("acme").name == "acme"
    assert transport.seen.count("GET /organizations/acme") == 3


def test_writes_are_never_retried(
    faulty: tuple[RemoteStore, FaultyTransport], local: LocalStore
) -> None:
    remote, transport = faulty
    transport.inject("POST", "/sourceimages/acme", status(500, b'{"error":{"code":500}}'))
    with pytest.raises(BackendUnavailable):
        remote.create_source_image("acme", io.BytesIO(images.png()), name="a.png")
    assert transport.seen.count("POST /sourceimages/acme") == 1
    assert local.list_source_images("acme").total == 0


def test_malformed_json(faulty: tuple[RemoteStore, FaultyTransport], local: LocalStore) -> None:
    remote, transport = faulty
    image = local.create_source_image("acme", io.BytesIO(images.png()), name="a.png")
    transport.inject("GET", f"/sourceimages/acme/{image.hash}", status(200, b"{not json"))
    with pytest.raises(BackendError, match="malformed JSON"):
        remote.get_source_image("acme", image.hash)
    transport.faults.clear()
    transport.inject("GET", "/sourceimages/acme", status(200, b'{"items": [{"hash": 1}]}'))
    with pytest.raises(BackendError, match="malformed source image"):
        remote.list_source_images("acme")


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (
            status(401, b'{"code":401,"message":"expired","invalid_authentication":true}'),
            AuthenticationFailed,
        ),
        (
            status(403, b'{"code":403,"message":"bad key","invalid_authentication":true}'),
            AuthenticationFailed,
        ),
        (status(403, b'{"error":{"code":403,"message":"no write role"}}'), NotPermitted),
        (status(404, b'{"error":{"code":404,"message":"gone"}}'), ImageNotFound),
        (status(502, b"<html>bad gateway</html>"), BackendUnavailable),
    ],
)
def test_status_mapping_for_foreign_servers(
    faulty: tuple[RemoteStore, FaultyTransport], answer: Fault, error: type[Exception]
) -> None:
    remote, transport = faulty
    transport.inject("GET", "/sourceimages/acme/abcdef", answer)
    with pytest.raises(error):
        remote.get_source_image("acme", "abcdef")


def test_exact_error_classes_from_rokkafs(
    faulty: tuple[RemoteStore, FaultyTransport], local: LocalStore
) -> None:
    remote, _ = faulty
    image = local.create_source_image("acme", io.BytesIO(images.png()), name="a.png")
    local.set_locked("acme", image.hash, True)
    with pytest.raises(Locked):
        remote.patch_user_metadata("acme", image.hash, {"a": "b"})
    assert local.get_source_image("acme", image.hash).user_metadata == {}


def test_download_cut_short_leaves_no_cache_file(
    faulty: tuple[RemoteStore, FaultyTransport], local: LocalStore, tmp_path: Path
) -> None:
    remote, transport = faulty
    data = images.png(size=(300, 300))
    image = local.create_source_image("acme", io.BytesIO(data), name="a.png")
    transport.inject("GET", "/download", lambda r: httpx.Response(200, stream=CutStream()))
    with pytest.raises(BackendUnavailable, match="complete body"):
        remote.open_source_image("acme", image.hash)
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    transport.faults.clear()
    with remote.open_source_image("acme", image.hash) as handle:
        assert handle.read() == data


def test_bad_key_against_the_real_server(local: LocalStore) -> None:
    with running_server(make_server(local, lambda: [KEY], port=0)) as url:
        remote = RemoteStore(url, "wrong-key")
        with pytest.raises(AuthenticationFailed):
            remote.list_organizations()
        remote.close()
