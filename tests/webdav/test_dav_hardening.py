"""Hostile and broken requests against the WebDAV face: a clear error, nothing changed."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import images
import pytest
from davsupport import DavServer

from rokkafs.rokka.search import SearchQuery
from rokkafs.store.local import LocalStore


def nothing_stored(store: LocalStore) -> bool:
    return store.list_source_images("acme", SearchQuery(limit=0)).total == 0


def test_doctype_bodies_are_refused(dav: httpx.Client) -> None:
    body = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        '<D:propfind xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:propfind>'
    )
    for method in ("PROPFIND", "PROPPATCH", "LOCK"):
        response = dav.request(method, "/acme/", content=body, headers={"Depth": "0"})
        assert response.status_code == 400, method
    wide = body.replace("UTF-8", "").encode("utf-16")  # (an XML parser reads UTF-16 as well)
    for content in (wide, body.encode("utf-16-be"), body.encode("utf-16-le")):
        response = dav.request("PROPFIND", "/acme/", content=content, headers={"Depth": "0"})
        assert response.status_code == 400


def test_oversized_xml_bodies_are_refused(dav: httpx.Client) -> None:
    body = b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:">' + b" " * (1 << 20) + b"</D:propfind>"
    assert (
        dav.request("PROPFIND", "/acme/", content=body, headers={"Depth": "0"}).status_code == 413
    )


def test_propfind_depth_infinity_is_refused(dav: httpx.Client) -> None:
    response = dav.request("PROPFIND", "/", headers={"Depth": "infinity"})
    assert response.status_code == 403 and "propfind-finite-depth" in response.text
    assert dav.request("PROPFIND", "/").status_code == 207  # no Depth header: treated as 1


@pytest.mark.parametrize(
    "header",
    [
        "Basic",
        "Basic !!!notbase64",
        "Basic bm9jb2xvbg==",  # "nocolon"
        "Basic " + "A" * 10000,
        "Bearer token",
        "Basic w7w=",  # not UTF-8 user:password
    ],
)
def test_malformed_credentials_are_401_never_500(dav_server: DavServer, header: str) -> None:
    response = httpx.request("PROPFIND", f"{dav_server.dav}/", headers={"Authorization": header})
    assert response.status_code == 401
    assert 'Basic realm="rokkafs"' in response.headers.get("WWW-Authenticate", "")


def test_wrong_key_and_no_key(dav_server: DavServer) -> None:
    assert httpx.request("PROPFIND", f"{dav_server.dav}/", auth=("u", "wrong")).status_code == 401
    assert httpx.request("PROPFIND", f"{dav_server.dav}/").status_code == 401


@pytest.mark.parametrize(
    "path", ["/acme/../../etc/passwd", "/acme/%2e%2e/%2e%2e/etc/passwd", "/acme/..%2f..%2fetc"]
)
def test_traversal_finds_nothing(dav: httpx.Client, path: str) -> None:
    response = dav.get(path)
    assert response.status_code in (400, 403, 404) and b"root:" not in response.content


def test_destination_on_another_host(dav: httpx.Client, dav_server: DavServer) -> None:
    dav.put("/acme/a.png", content=images.png())
    response = dav.request(
        "COPY", "/acme/a.png", headers={"Destination": "http://evil.example/dav/other/a.png"}
    )
    assert response.status_code == 502
    assert dav_server.store.list_source_images("other", SearchQuery(limit=0)).total == 0


def send_cut_off(url: str, head: str, body: bytes) -> bytes:
    """Send a request whose body stops short of its ``Content-Length`` (given in ``head``),
    close the sending side as a client that went away does, and return the server's answer:
    it comes only once the server is done with the request."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as raw:
        raw.sendall(head.encode() + body)
        raw.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    return answer


# bodies whose first half is a valid file of its own (text is on the allow-list; a multipage
# TIFF cut between pages still decodes), so only the declared length can tell it is cut
HALF_VALID = {
    "cut.txt": b"a line of text that is whole on its own\n" * 6000,
    "cut.tif": images.multipage_tiff(),
}


@pytest.mark.parametrize("name", sorted(HALF_VALID))
def test_broken_off_upload_stores_nothing(dav_server: DavServer, name: str) -> None:
    data = HALF_VALID[name]
    credentials = base64.b64encode(f"u:{dav_server.key}".encode()).decode()
    head = (
        f"PUT /dav/acme/{name} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {credentials}\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    answer = send_cut_off(dav_server.url, head, data[: len(data) // 2])
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    with httpx.Client(auth=("u", dav_server.key)) as client:
        assert client.get(f"{dav_server.dav}/acme/{name}").status_code == 404
    assert nothing_stored(dav_server.store)


@pytest.mark.parametrize("cut", ["inside the file", "after the last boundary"])
def test_broken_off_rest_upload_stores_nothing(dav_server: DavServer, cut: str) -> None:
    text = HALF_VALID["cut.txt"]
    form = (
        b'--XX\r\nContent-Disposition: form-data; name="filedata"; filename="r.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n" + text + b"\r\n--XX--\r\n"
    )
    sent = form[: len(form) // 2] if cut == "inside the file" else form
    head = (
        f"POST /sourceimages/acme HTTP/1.1\r\nHost: x\r\nApi-Key: {dav_server.key}\r\n"
        "Content-Type: multipart/form-data; boundary=XX\r\n"
        f"Content-Length: {len(form) + 1000}\r\n\r\n"
    )
    answer = send_cut_off(dav_server.url, head, sent)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert nothing_stored(dav_server.store)


def test_over_limit_uploads_get_413(dav: httpx.Client, dav_server: DavServer) -> None:
    big = bytes(6_000_000)
    assert dav.put("/acme/big.png", content=big).status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(60):
            yield bytes(100_000)

    assert dav.put("/acme/big2.png", content=chunks()).status_code == 413
    assert nothing_stored(dav_server.store)
    assert "big" not in dav.request("PROPFIND", "/acme/", headers={"Depth": "1"}).text


def test_unsupported_types_get_415(dav: httpx.Client, dav_server: DavServer) -> None:
    response = dav.put("/acme/blob.bin", content=bytes(range(256)) * 10)
    assert response.status_code == 415
    assert "Traceback" not in response.text and "WsgiDAV" not in response.text
    assert nothing_stored(dav_server.store)
    assert "blob.bin" not in dav.request("PROPFIND", "/acme/", headers={"Depth": "1"}).text


def test_error_pages_show_no_version_or_traceback(dav: httpx.Client) -> None:
    response = dav.get("/acme/missing.png")
    assert response.status_code == 404
    assert "Traceback" not in response.text and "4.4" not in response.headers.get("Server", "")


def test_a_put_that_does_not_match_its_oc_checksum_stores_nothing(
    dav: httpx.Client, dav_server: DavServer
) -> None:
    import hashlib

    data = images.png(color=13)
    wrong = {"OC-Checksum": f"SHA1:{hashlib.sha1(b'other').hexdigest()}"}
    assert dav.put("/acme/sum.png", content=data, headers=wrong).status_code == 400
    assert nothing_stored(dav_server.store)
    wrong_md5 = {"OC-Checksum": f"MD5:{hashlib.md5(b'other').hexdigest()}"}
    assert dav.put("/acme/sum.png", content=data, headers=wrong_md5).status_code == 400
    assert nothing_stored(dav_server.store)
    right = {"OC-Checksum": f"SHA1:{hashlib.sha1(data).hexdigest()}"}
    assert dav.put("/acme/sum.png", content=data, headers=right).status_code == 201
    assert dav.get("/acme/sum.png").content == data


def test_names_over_255_bytes_are_refused_on_webdav_and_rest(
    dav: httpx.Client, dav_server: DavServer
) -> None:
    long_name = "y" * 1000 + ".png"
    assert dav.put(f"/acme/{long_name}", content=images.png(color=14)).status_code == 400
    assert dav.request("MKCOL", f"/acme/{'z' * 300}").status_code == 400
    rest = httpx.post(
        f"{dav_server.url}/sourceimages/acme",
        headers={"Api-Key": dav_server.key},
        files={"filedata": (long_name, images.png(color=14), "image/png")},
    )
    assert rest.status_code == 400 and "255 bytes" in rest.text
    assert nothing_stored(dav_server.store)


def test_rest_search_finds_a_name_given_decomposed(
    dav: httpx.Client, dav_server: DavServer
) -> None:
    import unicodedata

    assert dav.put("/acme/Caf\u00e9.png", content=images.png(color=15)).status_code == 201
    found = httpx.get(
        f"{dav_server.url}/sourceimages/acme",
        params={"name": unicodedata.normalize("NFD", "Caf\u00e9.png")},
        headers={"Api-Key": dav_server.key},
    ).json()
    assert [i["name"] for i in found["items"]] == ["Caf\u00e9.png"]


def test_answers_name_no_server_library_and_show_no_python_reprs(
    dav: httpx.Client, dav_server: DavServer
) -> None:
    created = dav.put("/acme/a.png", content=images.png(color=16))
    assert created.status_code == 201 and created.text == "201 Created\n"
    folder = dav.request("MKCOL", "/acme/folder")
    assert folder.status_code == 201 and "wsgidav" not in folder.text.lower()
    entity = '<!DOCTYPE svg [<!ENTITY x "y">]>'
    refused = dav.put("/acme/x.svg", content=images.svg(extra=entity))
    assert refused.status_code == 400
    assert "(it declares 'x')" in refused.text and "EntitiesForbidden(" not in refused.text


def test_a_folder_page_without_accept_html_and_no_whole_original_as_thumbnail(
    dav: httpx.Client,
) -> None:
    page = dav.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "acme/" in page.text
    assert dav.put("/acme/d.pdf", content=images.pdf()).status_code == 201
    thumbnail = dav.get("/acme/d.pdf?thumbnail")
    assert thumbnail.status_code == 404 and thumbnail.content != images.pdf()
