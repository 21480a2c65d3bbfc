"""Desktop clients' request sequences against a real server: Explorer's probe of the server
root, Finder's revalidation with If-Modified-Since, a reverted file, quoted entity tags."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import images
import pytest
from davsupport import DavServer, make_certificate, postgres_dav_server, responses
from test_dav_operations import live

from rokkafs.rokka.search import SearchQuery
from rokkafs.server import make_server, running_server
from rokkafs.store.local import LocalStore

MINIREDIR = {"User-Agent": "Microsoft-WebDAV-MiniRedir/10.0.19045", "translate": "f"}
ETAG = "{DAV:}getetag"


@pytest.fixture(params=["http", "http-postgres", "https"])
def explorer_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, str, LocalStore]]:
    """The server Explorer maps: plain (state in SQLite, and in PostgreSQL), and over TLS
    (Explorer sends Basic auth only there)."""
    if request.param == "http-postgres":
        with postgres_dav_server(request.getfixturevalue("postgres"), tmp_path) as server:
            yield server.url, server.key, server.store
        return
    if request.param == "http":
        server = request.getfixturevalue("dav_server")
        yield server.url, server.key, server.store
        return
    cert, key = make_certificate(tmp_path)
    data = tmp_path / "tls-data"
    store = LocalStore(data)
    store.create_organization("acme")
    api_key = "t" * 64
    server = make_server(
        store, lambda: [api_key], port=0, data_dir=data, tls_cert=cert, tls_key=key
    )
    with running_server(server) as url:
        yield url, api_key, store
    store.close()


def test_explorer_maps_the_drive_after_probing_the_server_root(
    explorer_server: tuple[str, str, LocalStore],
) -> None:
    url, api_key, store = explorer_server
    plain = {"headers": MINIREDIR, "timeout": 30, "verify": False}
    with httpx.Client(base_url=url, **plain) as anonymous:  # type: ignore[arg-type]
        probe = anonymous.options("/")
        assert probe.status_code == 200
        assert {"1", "2"} <= {part.strip() for part in probe.headers["DAV"].split(",")}
        assert "PROPFIND" in probe.headers["Allow"]
        challenge = anonymous.request("PROPFIND", "/", headers={"Depth": "0"})
        assert challenge.status_code == 401
        assert challenge.headers["WWW-Authenticate"].startswith("Basic")
        assert anonymous.request("PROPFIND", "/dav/", headers={"Depth": "0"}).status_code == 401
    auth = ("someone@example.org", api_key)
    with httpx.Client(base_url=url, auth=auth, **plain) as mapped:  # type: ignore[arg-type]
        assert mapped.options("/").status_code == 200
        root = mapped.request("PROPFIND", "/", headers={"Depth": "1"})
        assert root.status_code == 207 and set(responses(root.text)) == {"/", "/dav/"}
        wrong = mapped.request("PROPFIND", "/", headers={"Depth": "0"}, auth=("x", "not-a-key"))
        assert wrong.status_code == 401
        listing = mapped.request("PROPFIND", "/dav/", headers={"Depth": "1"})
        assert listing.status_code == 207 and "/dav/acme/" in responses(listing.text)
        data = images.png(color=3)
        assert mapped.put("/dav/acme/mapped.png", content=data).status_code == 201
        assert mapped.get("/dav/acme/mapped.png").content == data
        # rokka's REST routes at the root are untouched
        resources = mapped.get("/", headers={"Api-Key": api_key})
        assert resources.status_code == 200
    assert [i.name for i in store.list_source_images("acme").items] == ["mapped.png"]


def test_finder_reopens_a_file_without_downloading_it(
    any_dav: httpx.Client, any_dav_server: DavServer
) -> None:
    dav, dav_server = any_dav, any_dav_server
    data = images.jpeg(color=4)
    assert dav.put("/acme/photo.jpg", content=data).status_code == 201
    first = dav.get("/acme/photo.jpg")
    stamp = first.headers["Last-Modified"]
    again = dav.get("/acme/photo.jpg", headers={"If-Modified-Since": stamp})
    assert again.status_code == 304 and again.content == b""
    older = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert dav.get("/acme/photo.jpg", headers={"If-Modified-Since": older}).content == data
    refused = dav.put(
        "/acme/photo.jpg", content=images.jpeg(color=5), headers={"If-Unmodified-Since": older}
    )
    assert refused.status_code == 412
    image = dav_server.store.get_source_image("acme", live(dav_server.store)["photo.jpg"])
    assert image.binary_hash == hashlib.sha1(data).hexdigest()  # the refused PUT changed nothing
    rest = httpx.get(
        f"{dav_server.url}/sourceimages/acme/{image.hash}/download",
        headers={"Api-Key": dav_server.key, "If-Modified-Since": stamp},
    )
    assert rest.status_code == 304


def test_reverting_a_file_through_webdav(any_dav: httpx.Client, any_dav_server: DavServer) -> None:
    dav, dav_server = any_dav, any_dav_server
    v1, v2 = images.png(color=10), images.png(color=11)
    assert dav.put("/acme/edit.png", content=v1).status_code == 201
    assert dav.put("/acme/edit.png", content=v2).status_code == 204
    assert dav.put("/acme/edit.png", content=v1).status_code == 204
    listing = responses(dav.request("PROPFIND", "/acme/", headers={"Depth": "1"}).text)
    assert sorted(listing) == ["/dav/acme/", "/dav/acme/edit.png"]
    assert dav.get("/acme/edit.png").content == v1
    trashed = dav_server.store.list_source_images("acme", SearchQuery(deleted=True)).items
    assert sorted(i.binary_hash for i in trashed) == sorted(
        hashlib.sha1(v).hexdigest() for v in (v1, v2)
    )


def test_getetag_is_the_quoted_etag_header(dav: httpx.Client) -> None:
    assert dav.put("/acme/e.png", content=images.png(color=12)).status_code == 201
    header = dav.head("/acme/e.png").headers["ETag"]
    assert header.startswith('"') and header.endswith('"')
    ask = (
        '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>'
    )
    found = dav.request("PROPFIND", "/acme/e.png", headers={"Depth": "0"}, content=ask)
    assert responses(found.text)["/dav/acme/e.png"][ETAG] == header
