"""The operation table of docs/architecture.md through WebDAV, each checked against the store
afterwards, and the Finder / Windows Explorer request sequences replayed."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import images
from davsupport import DavServer, property_statuses, responses

from rokkafs.rokka.search import SearchQuery
from rokkafs.store.local import LocalStore

LOCK_BODY = (
    '<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope>'
    "<D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
    "<D:owner><D:href>someone</D:href></D:owner></D:lockinfo>"
)

WIN32_HEAD = (
    '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" '
    'xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>'
)


def live(store: LocalStore, org: str = "acme") -> dict[str, str]:
    items = store.list_source_images(org, SearchQuery(limit=500)).items
    return {i.name: i.hash for i in items}


def trashed(store: LocalStore, org: str = "acme") -> list[str]:
    return sorted(i.name for i in store.list_source_images(org, SearchQuery(deleted=True)).items)


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def propfind(dav: httpx.Client, path: str, body: str = "", depth: str = "1") -> str:
    response = dav.request("PROPFIND", path, headers={"Depth": depth}, content=body)
    assert response.status_code == 207, response.text
    return response.text


def test_put_get_overwrite_and_identical_overwrite(
    dav: httpx.Client, dav_server: DavServer
) -> None:
    first, second = images.png(color=1), images.png(color=2)
    assert dav.put("/acme/2024/cat.png", content=first).status_code == 409  # no parent folder
    assert dav.request("MKCOL", "/acme/2024").status_code == 201
    assert dav.put("/acme/2024/cat.png", content=first).status_code == 201
    before = live(dav_server.store)["2024/cat.png"]
    assert dav.get("/acme/2024/cat.png").content == first
    assert dav.put("/acme/2024/cat.png", content=first).status_code == 204
    assert live(dav_server.store)["2024/cat.png"] == before and trashed(dav_server.store) == []
    assert dav.put("/acme/2024/cat.png", content=second).status_code == 204
    image = dav_server.store.get_source_image("acme", live(dav_server.store)["2024/cat.png"])
    assert image.binary_hash == sha1(second)
    assert trashed(dav_server.store) == ["2024/cat.png"]
    ranged = dav.get("/acme/2024/cat.png", headers={"Range": "bytes=0-7"})
    assert ranged.status_code == 206 and ranged.content == second[:8]


def test_same_bytes_under_another_name(dav: httpx.Client, dav_server: DavServer) -> None:
    dav.put("/acme/a.png", content=images.png())
    dav.put("/acme/b.png", content=images.png())
    names = live(dav_server.store)
    assert set(names) == {"a.png", "b.png"} and names["a.png"] != names["b.png"]


def test_move_rename_and_restore(dav: httpx.Client, dav_server: DavServer) -> None:
    dav.put("/acme/a.png", content=images.png(color=1))
    dav.put("/acme/b.png", content=images.png(color=2))
    moved = dav.request(
        "MOVE", "/acme/a.png", headers={"Destination": f"{dav_server.dav}/acme/c.png"}
    )
    assert moved.status_code == 201 and set(live(dav_server.store)) == {"b.png", "c.png"}
    over = dav.request(
        "MOVE", "/acme/c.png", headers={"Destination": f"{dav_server.dav}/acme/b.png"}
    )
    assert over.status_code == 204 and set(live(dav_server.store)) == {"b.png"}
    assert trashed(dav_server.store) == ["b.png"]
    assert dav.delete("/acme/b.png").status_code == 204
    assert trashed(dav_server.store) == ["b.png", "b.png"]
    assert "b.png" in propfind(dav, "/acme/.trash/")
    assert ".trash" not in propfind(dav, "/acme/")
    assert dav.delete("/acme/.trash/b.png").status_code == 403
    restored = dav.request(
        "MOVE", "/acme/.trash/b.png", headers={"Destination": f"{dav_server.dav}/acme/back.png"}
    )
    assert restored.status_code == 201 and set(live(dav_server.store)) == {"back.png"}


def test_cross_organization_copy_is_native(dav: httpx.Client, dav_server: DavServer) -> None:
    dav.put("/acme/a.png", content=images.png())
    source = live(dav_server.store)["a.png"]
    copied = dav.request(
        "COPY", "/acme/a.png", headers={"Destination": f"{dav_server.dav}/other/a.png"}
    )
    assert copied.status_code == 201 and live(dav_server.store, "other") == {"a.png": source}
    again = dav.request(
        "COPY",
        "/acme/a.png",
        headers={"Destination": f"{dav_server.dav}/other/a.png", "Overwrite": "F"},
    )
    assert again.status_code == 412
    moved = dav.request(
        "MOVE", "/acme/a.png", headers={"Destination": f"{dav_server.dav}/other/m.png"}
    )
    assert moved.status_code == 201 and live(dav_server.store) == {}
    after = live(dav_server.store, "other")
    assert set(after) == {"a.png", "m.png"} and after["a.png"] == source
    second = dav_server.store.get_source_image("other", after["m.png"])
    assert second.binary_hash == dav_server.store.get_source_image("other", source).binary_hash


def test_mkcol_at_root_creates_an_organization(dav: httpx.Client, dav_server: DavServer) -> None:
    assert dav.request("MKCOL", "/new-org").status_code == 201
    assert dav_server.store.get_organization("new-org").name == "new-org"
    assert dav.request("MKCOL", "/Bad Name").status_code == 400


def test_locked_image_refuses_delete(dav: httpx.Client, dav_server: DavServer) -> None:
    dav.put("/acme/a.png", content=images.png())
    dav_server.store.set_locked("acme", live(dav_server.store)["a.png"], True)
    assert dav.delete("/acme/a.png").status_code == 403
    assert set(live(dav_server.store)) == {"a.png"}


def test_properties(dav: httpx.Client, dav_server: DavServer) -> None:
    data = images.png()
    dav.put("/acme/a.png", content=data, headers={"X-OC-Mtime": "1577934245"})
    named = (
        '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:oc="http://owncloud.org/ns" '
        'xmlns:R="urn:rokkafs"><D:prop><D:getetag/><oc:checksums/><R:width/><R:binary_hash/>'
        "</D:prop></D:propfind>"
    )
    body = propfind(dav, "/acme/a.png", named, depth="0")
    [answer] = responses(body).values()
    md5 = hashlib.md5(data).hexdigest()
    assert answer["{http://owncloud.org/ns}checksums"] == f"SHA1:{sha1(data)} MD5:{md5}"
    assert answer["{DAV:}getetag"].strip('"') == sha1(data)
    assert answer["{urn:rokkafs}width"] == "64"
    assert answer["{urn:rokkafs}binary_hash"] == sha1(data)
    assert "1577934245" not in body
    everything = propfind(dav, "/acme/a.png", depth="0")  # allprop: DAV: and dead props only
    assert "getcontentlength" in everything and sha1(data) in everything  # (the etag)
    assert "SHA1:" not in everything and "binary_hash" not in everything
    image = dav_server.store.get_source_image("acme", live(dav_server.store)["a.png"])
    assert image.mtime == 1577934245
    patch = (
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:R="urn:rokkafs">'
        "<D:set><D:prop><R:meta.int.views>42</R:meta.int.views><R:meta.title>Cat</R:meta.title>"
        "</D:prop></D:set></D:propertyupdate>"
    )
    assert dav.request("PROPPATCH", "/acme/a.png", content=patch).status_code == 207
    image = dav_server.store.get_source_image("acme", image.hash)
    assert image.user_metadata == {"int:views": 42, "title": "Cat"}
    bad = patch.replace(">42<", ">many<")
    answer = dav.request("PROPPATCH", "/acme/a.png", content=bad)
    assert answer.status_code == 207
    assert property_statuses(answer.text)["{urn:rokkafs}meta.int.views"] == 400
    assert dav_server.store.get_source_image("acme", image.hash).user_metadata["int:views"] == 42
    read_only = patch.replace("meta.int.views>42</R:meta.int.views", "hash>x</R:hash")
    refused = dav.request("PROPPATCH", "/acme/a.png", content=read_only)
    assert property_statuses(refused.text)["{urn:rokkafs}hash"] == 403
    win32 = (
        f"{WIN32_HEAD}<Z:Win32LastModifiedTime>Wed, 01 Jan 2020 00:00:00 GMT"
        "</Z:Win32LastModifiedTime><Z:Win32FileAttributes>00000020</Z:Win32FileAttributes>"
        "</D:prop></D:set></D:propertyupdate>"
    )
    assert dav.request("PROPPATCH", "/acme/a.png", content=win32).status_code == 207
    assert dav_server.store.get_source_image("acme", image.hash).mtime == 1577836800


def test_finder_sequence(dav: httpx.Client, dav_server: DavServer) -> None:
    """0-byte PUT, LOCK, chunked PUT with the token, AppleDouble file, UNLOCK."""
    data = images.jpeg(size=(200, 150))
    assert dav.put("/acme/photo.jpg", content=b"").status_code == 201
    assert live(dav_server.store) == {}
    locked = dav.request(
        "LOCK", "/acme/photo.jpg", content=LOCK_BODY, headers={"Timeout": "Second-600"}
    )
    token = locked.headers["Lock-Token"]

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(data), 1000):
            yield data[start : start + 1000]

    put = dav.put(
        "/acme/photo.jpg",
        content=chunks(),
        headers={"If": f"({token})", "X-Expected-Entity-Length": str(len(data))},
    )
    assert put.status_code == 204
    assert dav.put("/acme/._photo.jpg", content=b"\x00\x05\x16\x07 applesingle").status_code == 201
    assert dav.put("/acme/.DS_Store", content=b"\x00\x00\x00\x01Bud1").status_code == 201
    assert (
        dav.request("UNLOCK", "/acme/photo.jpg", headers={"Lock-Token": token}).status_code == 204
    )
    image = dav_server.store.get_source_image("acme", live(dav_server.store)["photo.jpg"])
    assert image.binary_hash == sha1(data) and image.format == "jpg"
    assert set(live(dav_server.store)) == {"photo.jpg"}
    listing = propfind(dav, "/acme/")
    assert "._photo.jpg" in listing and ".DS_Store" in listing


def test_explorer_sequence(dav: httpx.Client, dav_server: DavServer) -> None:
    """0-byte PUT, LOCK, PUT, Win32 PROPPATCH, UNLOCK: the right image, no stray entries."""
    data = images.png(color=7)
    dav.put("/acme/scan.png", content=b"")
    token = dav.request("LOCK", "/acme/scan.png", content=LOCK_BODY).headers["Lock-Token"]
    assert dav.put("/acme/scan.png", content=data, headers={"If": f"({token})"}).status_code == 204
    win32 = (
        f"{WIN32_HEAD}<Z:Win32CreationTime>Wed, 01 Jan 2020 00:00:00 GMT</Z:Win32CreationTime>"
        "</D:prop></D:set></D:propertyupdate>"
    )
    patched = dav.request(
        "PROPPATCH", "/acme/scan.png", content=win32, headers={"If": f"({token})"}
    )
    assert patched.status_code == 207
    assert responses(patched.text)["/dav/acme/scan.png"] == {
        "{urn:schemas-microsoft-com:}Win32CreationTime": ""
    }
    assert dav.request("UNLOCK", "/acme/scan.png", headers={"Lock-Token": token}).status_code == 204
    [image] = dav_server.store.list_source_images("acme").items
    assert image.name == "scan.png" and image.binary_hash == sha1(data)
    assert dav.put("/acme/Thumbs.db", content=b"thumbs").status_code == 201
    assert set(live(dav_server.store)) == {"scan.png"}


def test_copies_keep_metadata_and_times_and_send_no_bytes(
    dav: httpx.Client, dav_server: DavServer
) -> None:
    """A copy is the store's native copy: the same hash, user metadata and modification time
    in the other organization (a re-upload of the bytes would lose both), and inside one
    organization a second image that keeps the user metadata."""
    store = dav_server.store
    assert dav.put("/acme/a.png", content=images.png(color=21)).status_code == 201
    source = store.get_source_image("acme", live(store)["a.png"])
    source = store.patch_user_metadata("acme", source.hash, {"title": "Cat", "int:views": 3})
    source = store.set_mtime("acme", source.hash, 1_500_000_000)
    blobs_before = sorted(p.name for p in (dav_server.data / "blobs").rglob("*") if p.is_file())
    across = dav.request(
        "COPY", "/acme/a.png", headers={"Destination": f"{dav_server.dav}/other/c.png"}
    )
    assert across.status_code == 201
    there = store.get_source_image("other", live(store, "other")["c.png"])
    assert there.hash == source.hash
    assert dict(there.user_metadata) == {"title": "Cat", "int:views": 3}
    assert there.mtime == 1_500_000_000
    inside = dav.request(
        "COPY", "/acme/a.png", headers={"Destination": f"{dav_server.dav}/acme/b.png"}
    )
    assert inside.status_code == 201
    second = store.get_source_image("acme", live(store)["b.png"])
    assert second.binary_hash == source.binary_hash and second.hash != source.hash
    assert dict(second.user_metadata) == {"title": "Cat", "int:views": 3}
    blobs_after = sorted(p.name for p in (dav_server.data / "blobs").rglob("*") if p.is_file())
    assert blobs_after == blobs_before  # (no bytes were stored again)


def test_a_lock_refuses_delete_without_its_token(dav: httpx.Client, dav_server: DavServer) -> None:
    assert dav.put("/acme/l.png", content=images.png(color=22)).status_code == 201
    token = dav.request("LOCK", "/acme/l.png", content=LOCK_BODY).headers["Lock-Token"]
    assert dav.delete("/acme/l.png").status_code == 423
    assert set(live(dav_server.store)) == {"l.png"}
    assert dav.delete("/acme/l.png", headers={"If": f"({token})"}).status_code == 204
    assert live(dav_server.store) == {} and trashed(dav_server.store) == ["l.png"]


def test_if_none_match(dav: httpx.Client, dav_server: DavServer) -> None:
    data = images.png(color=23)
    assert dav.put("/acme/n.png", content=data, headers={"If-None-Match": "*"}).status_code == 201
    etag = dav.head("/acme/n.png").headers["ETag"]
    assert dav.get("/acme/n.png", headers={"If-None-Match": etag}).status_code == 304
    assert dav.get("/acme/n.png", headers={"If-None-Match": '"other"'}).content == data
    other = images.png(color=24)
    refused = dav.put("/acme/n.png", content=other, headers={"If-None-Match": "*"})
    assert refused.status_code == 412
    assert dav.get("/acme/n.png").content == data and trashed(dav_server.store) == []
