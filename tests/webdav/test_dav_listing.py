"""PROPFIND answered from one listing and streamed (rokkafs.webdav.listing) says exactly what
wsgidav's own answer says, for every set of properties real clients ask; with a lock or a
dead property in the folder, wsgidav answers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree

import httpx
import images
import pytest
from davsupport import DavServer
from test_dav_persistence_tls import LOCK_BODY, PROPPATCH

from rokkafs.webdav import resources

_PROPS = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" {ns}><D:prop>{props}</D:prop></D:propfind>'
)
ASKED = {
    "empty body (allprop)": "",
    "allprop": '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>',
    "rclone (owncloud)": _PROPS.format(
        ns='xmlns:oc="http://owncloud.org/ns"',
        props="<D:displayname/><D:getlastmodified/><D:getcontentlength/><D:resourcetype/>"
        "<D:getcontenttype/><oc:checksums/><oc:permissions/>",
    ),
    "Finder": _PROPS.format(
        ns='xmlns:A="http://www.apple.com/webdav_fs/props/"',
        props="<D:getlastmodified/><D:getcontentlength/><D:creationdate/><D:resourcetype/>"
        "<A:appledoubleheader/>",
    ),
    "Explorer": _PROPS.format(
        ns='xmlns:Z="urn:schemas-microsoft-com:"',
        props="<D:name/><D:getcontenttype/><D:getcontentlength/><D:creationdate/>"
        "<D:getlastmodified/><D:resourcetype/><D:displayname/><D:iscollection/><D:ishidden/>"
        "<Z:Win32CreationTime/><Z:Win32LastModifiedTime/><Z:Win32FileAttributes/>",
    ),
    "rokkafs properties": _PROPS.format(
        ns='xmlns:R="urn:rokkafs" xmlns:oc="http://owncloud.org/ns"',
        props="<D:getetag/><R:hash/><R:width/><R:meta.title/><R:locked/><oc:checksums/>"
        "<D:lockdiscovery/><D:supportedlock/><D:quota-used-bytes/><unqualified/>",
    ),
}
VARYING = {"{DAV:}quota-available-bytes"}  # (free disk space: may change between two asks)


def normalized(element: ElementTree.Element) -> Any:
    children = sorted(normalized(child) for child in element)
    return (element.tag, (element.text or "").strip(), tuple(children))


def answer(response: httpx.Response) -> dict[str, dict[str, dict[str, Any]]]:
    """{href: {status: {property: its normalized content}}}, whatever the prefixes."""
    assert response.status_code == 207, response.text
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for entry in ElementTree.fromstring(response.content).iter("{DAV:}response"):
        statuses = found.setdefault(entry.findtext("{DAV:}href", ""), {})
        for propstat in entry.iter("{DAV:}propstat"):
            props = statuses.setdefault(propstat.findtext("{DAV:}status", ""), {})
            for prop in propstat.iter("{DAV:}prop"):
                for element in prop:
                    if element.tag not in VARYING:
                        props[element.tag] = normalized(element)
    return found


@pytest.fixture
def library(dav_server: DavServer) -> Iterator[httpx.Client]:
    with dav_server.client() as client:
        yield fill(client, dav_server)


def fill(client: httpx.Client, dav_server: DavServer) -> httpx.Client:
    for folder in ("/acme/f", "/acme/f/sub", "/acme/f/empty"):
        assert client.request("MKCOL", folder).status_code == 201
    for i, name in enumerate(["a.png", "b c&d (1).png", "ünï.png", "sub/in.png"]):
        assert client.put(f"/acme/f/{name}", content=images.png(color=i)).is_success
    assert client.put("/acme/f/.DS_Store", content=b"finder").is_success
    assert client.put("/acme/f/soon.png", content=b"").is_success  # (a placeholder)
    titled = dav_server.store.find_by_name("acme", "f/a.png")
    assert titled is not None
    dav_server.store.set_user_metadata_field("acme", titled.hash, "title", "A <cat>")
    assert client.delete("/acme/f/ünï.png").is_success  # (into the trash)
    return client


def both_answers(
    client: httpx.Client, path: str, body: str, depth: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[httpx.Response, httpx.Response]:
    headers = {"Depth": depth}
    streamed = client.request("PROPFIND", path, headers=headers, content=body)
    with monkeypatch.context() as patched:
        patched.setattr(resources, "streamed_propfind", lambda *args: None)
        built = client.request("PROPFIND", path, headers=headers, content=body)
    return streamed, built


@pytest.mark.parametrize("asked", list(ASKED))
@pytest.mark.parametrize(
    ("path", "depth"),
    [("/acme/f/", "1"), ("/acme/f/a.png", "0"), ("/acme/f/", "0"), ("/acme/.trash/f/", "1"),
     ("/acme/", "1"), ("/", "1")],
)  # fmt: skip
def test_the_streamed_answer_is_wsgidavs_answer(
    library: httpx.Client, asked: str, path: str, depth: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    streamed, built = both_answers(library, path, ASKED[asked], depth, monkeypatch)
    assert "content-length" not in streamed.headers  # (sent in chunks as it was written)
    assert "content-length" in built.headers
    assert answer(streamed) == answer(built)
    assert streamed.headers["content-type"] == built.headers["content-type"]


def test_a_folder_with_a_lock_or_a_dead_property_is_answered_by_wsgidav(
    library: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def streamed(path: str, depth: str = "1") -> bool:
        """Whether the answer was streamed, after checking it is wsgidav's answer."""
        fast, built = both_answers(library, path, "", depth, monkeypatch)
        assert answer(fast) == answer(built)
        return "content-length" not in fast.headers

    assert library.request("PROPPATCH", "/acme/f/a.png", content=PROPPATCH).status_code == 207
    dead = library.request("PROPFIND", "/acme/f/", headers={"Depth": "1"})
    assert answer(dead)["/dav/acme/f/a.png"]["HTTP/1.1 200 OK"]["{http://example.org/c}colour"]
    assert not streamed("/acme/f/") and not streamed("/acme/f/a.png", "0")
    assert streamed("/acme/") and streamed("/acme/f/sub/")  # (not on a member of theirs)
    locked = library.request("LOCK", "/acme/f/sub/", content=LOCK_BODY)
    assert locked.status_code == 200
    assert not streamed("/acme/f/sub/") and not streamed("/acme/f/sub/in.png", "0")
    assert not streamed("/acme/f/", "1") and streamed("/acme/")  # (f/sub is a member of f)
    found = library.request("PROPFIND", "/acme/f/", headers={"Depth": "1"})
    assert "opaquelocktoken" in found.text  # (the member's lock, shown in the listing)


def test_a_streamed_answer_keeps_the_connection_open_and_logs_nothing_wrong(
    library: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="wsgidav"):
        found = library.request("PROPFIND", "/acme/f/", headers={"Depth": "1"})
        again = library.request("PROPFIND", "/acme/f/", headers={"Depth": "1"})
    assert found.status_code == again.status_code == 207
    assert "content-length" not in found.headers  # (streamed, in chunks)
    assert found.headers.get("connection") != "close"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
