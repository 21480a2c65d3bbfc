"""PUT written without wsgidav's general machinery (rokkafs.webdav.put) answers what wsgidav
answers and leaves the same files behind; where a lock or a condition is in view, wsgidav
answers; no LOCK is granted on a path while its body is still arriving."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import images
import pytest
from davsupport import DavServer
from test_dav_listing import ASKED, answer
from test_dav_persistence_tls import ASK_COLOUR, LOCK_BODY, PROPPATCH

from rokkafs.webdav import put, resources

MTIME = "1500000000"
EIGHT = images.png(color=8)
STEPS: list[tuple[str, str, dict[str, str], bytes]] = [
    ("PUT", "a.png", {}, images.png(color=1)),
    ("PUT", "a.png", {}, images.png(color=2)),  # (over it: the first goes to the trash)
    ("PUT", "missing/b.png", {}, images.png(color=3)),  # (no folder there)
    ("MKCOL", "f", {}, b""),
    ("PUT", "f/b.png", {"X-OC-Mtime": MTIME}, images.png(color=4)),
    ("PUT", "f/b.png", {"X-OC-Mtime": "soon"}, images.png(color=5)),
    ("PUT", "f", {}, images.png(color=6)),  # (a folder)
    ("PUT", "c.png", {"OC-Checksum": "SHA1:" + "0" * 40}, images.png(color=7)),
    ("PUT", "d.png", {"OC-Checksum": "MD5:" + hashlib.md5(EIGHT).hexdigest()}, EIGHT),
    ("PUT", ".DS_Store", {}, b"finder's"),
    ("PUT", "empty.png", {}, b""),
    ("PUT", "broken.png", {}, b"\x89PNG\r\n\x1a\n cut short"),
    ("PUT", ".trash/t.png", {}, images.png(color=9)),
    ("PUT", "f/b.png", {"If-None-Match": "*"}, images.png(color=10)),
    ("PUT", "e.png", {"Content-Range": "bytes 0-3/4"}, b"abcd"),
]
TIMES = {"{DAV:}getlastmodified", "{DAV:}creationdate", "{DAV:}getetag",
         "{urn:schemas-microsoft-com:}Win32CreationTime",
         "{urn:schemas-microsoft-com:}Win32LastModifiedTime"}  # fmt: skip


@pytest.fixture
def direct_answers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, bool]]]:
    """Records, per PUT, whether rokkafs.webdav.put answered it."""
    answered: list[tuple[str, bool]] = []
    real = put.direct_put

    def recording(*args: Any) -> Any:
        path = args[1]["PATH_INFO"]
        try:
            result = real(*args)
        except Exception:
            answered.append((path, True))  # (answered, with an error)
            raise
        answered.append((path, result is not None))
        return result

    monkeypatch.setattr(resources, "direct_put", recording)
    yield answered


def run_steps(client: httpx.Client, org: str) -> list[tuple[int, str, bool, bytes]]:
    done = []
    for method, name, headers, body in STEPS:
        response = client.request(method, f"/{org}/{name}", headers=headers, content=body)
        etag = response.headers.get("etag", "")
        assert not etag or (etag.startswith('"') and etag.endswith('"'))
        content = response.content.replace(org.encode(), b"ORG")
        done.append((response.status_code, response.headers.get("content-type", ""),
                     bool(etag), content))  # fmt: skip
    return done


def listed(client: httpx.Client, org: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for folder in (f"/{org}/", f"/{org}/f/", f"/{org}/.trash/"):
        for asked in ("allprop", "rokkafs properties", "Explorer"):
            response = client.request(
                "PROPFIND", folder, headers={"Depth": "1"}, content=ASKED[asked]
            )
            for href, statuses in answer(response).items():
                for status, props in statuses.items():
                    for prop, value in props.items():
                        if prop not in TIMES:
                            key = (href.replace(f"/{org}/", "/ORG/"), asked, status, prop)
                            found[str(key)] = str(value).replace(org, "ORG")
    return found


def test_direct_puts_answer_and_store_what_wsgidav_does(
    dav_server: DavServer, direct_answers: list[tuple[str, bool]], monkeypatch: pytest.MonkeyPatch
) -> None:
    with dav_server.client() as client:
        direct = run_steps(client, "acme")
        taken = list(direct_answers)
        with monkeypatch.context() as patched:
            patched.setattr(resources, "direct_put", lambda *args: None)
            built = run_steps(client, "other")
        assert direct == built
        assert listed(client, "acme") == listed(client, "other")
        stamp = client.request("PROPFIND", "/acme/f/b.png", headers={"Depth": "0"})
        assert "Fri, 14 Jul 2017 02:40:00 GMT" in stamp.text  # (X-OC-Mtime: 1500000000)
    assert taken == [  # (PUT by PUT that reached wsgidav: whether rokkafs.webdav.put answered)
        ("/acme/a.png", True),
        ("/acme/a.png", True),
        ("/acme/missing/b.png", False),  # (no folder above: wsgidav says 409)
        ("/acme/f/b.png", True),  # (X-OC-Mtime)
        ("/acme/f/b.png", False),  # (a malformed X-OC-Mtime)
        ("/acme/f", False),  # (a folder)
        ("/acme/c.png", True),  # (400: not the checksum sent)
        ("/acme/d.png", True),
        ("/acme/.DS_Store", True),
        ("/acme/empty.png", True),
        ("/acme/broken.png", True),
        ("/acme/.trash/t.png", True),  # (403)
        ("/acme/f/b.png", False),  # (If-None-Match)
        ("/acme/e.png", False),  # (Content-Range)
    ]
    assert [status for status, *_ in direct] == [
        201, 204, 409, 201, 201, 400, 405, 400, 201, 201, 201, 400, 403, 412, 400
    ]  # fmt: skip


def test_a_lock_in_view_sends_the_put_to_wsgidav(
    dav_server: DavServer, direct_answers: list[tuple[str, bool]]
) -> None:
    with dav_server.client() as client:
        assert client.put("/acme/a.png", content=images.png(color=1)).status_code == 201
        assert client.request("MKCOL", "/acme/f").status_code == 201
        locked = client.request("LOCK", "/acme/a.png", content=LOCK_BODY)
        token = locked.headers["lock-token"]
        assert client.put("/acme/a.png", content=images.png(color=2)).status_code == 423
        tagged = {"If": f"({token})"}
        assert client.put("/acme/a.png", content=images.png(2), headers=tagged).status_code == 204
        folder = client.request("LOCK", "/acme/f", content=LOCK_BODY, headers={"Depth": "0"})
        assert folder.status_code == 200
        assert client.put("/acme/f/new.png", content=images.png(color=3)).status_code == 423
        assert client.put("/acme/b.png", content=images.png(color=4)).status_code == 201
        assert client.request("MKCOL", "/acme/My Fotos Ü").status_code == 201  # (quoted names)
        spaced = client.request(
            "LOCK", "/acme/My Fotos Ü", content=LOCK_BODY, headers={"Depth": "0"}
        )
        assert spaced.status_code == 200
        assert client.put("/acme/My Fotos Ü/in.png", content=images.png(5)).status_code == 423
    assert [direct for _, direct in direct_answers] == [True, False, False, False, True, False]


def test_dead_properties_follow_names_that_need_quoting(dav_server: DavServer) -> None:
    with dav_server.client() as client:
        assert client.put("/acme/a b Ü.png", content=images.png(color=1)).status_code == 201
        patched = client.request("PROPPATCH", "/acme/a b Ü.png", content=PROPPATCH)
        assert patched.status_code == 207
        moved = client.request(
            "MOVE", "/acme/a b Ü.png", headers={"Destination": "/dav/acme/c%20d%20%C3%89.png"}
        )
        assert moved.status_code == 201
        found = client.request("PROPFIND", "/acme/c d É.png", headers={"Depth": "0"},
                               content=ASK_COLOUR)  # fmt: skip
        assert "blue" in found.text


def test_no_lock_is_granted_while_a_direct_put_receives_its_body(
    dav_server: DavServer, direct_answers: list[tuple[str, bool]]
) -> None:
    started, release = threading.Event(), threading.Event()
    image = images.png(color=5)

    def slow_body() -> Iterator[bytes]:
        yield image[:100]
        started.set()
        release.wait(30)
        yield image[100:]

    results: list[int] = []

    def upload() -> None:
        with dav_server.client() as uploader:
            results.append(uploader.put("/acme/slow.png", content=slow_body()).status_code)

    thread = threading.Thread(target=upload)
    thread.start()
    try:
        assert started.wait(30)
        time.sleep(0.2)  # (the first piece is through the server's reading)
        with dav_server.client() as client:
            refused = client.request("LOCK", "/acme/slow.png", content=LOCK_BODY)
    finally:
        release.set()
        thread.join(30)
    assert refused.status_code == 423
    assert results == [201] and direct_answers == [("/acme/slow.png", True)]
