"""rokka's REST API against a real cheroot server on a free port, checked against the store."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import images
import pytest

from rokkafs.server import make_server, running_server
from rokkafs.store.config import StoreConfig
from rokkafs.store.local import LocalStore

KEY = "k" * 64


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalStore]:
    instance = LocalStore(tmp_path / "data", StoreConfig(max_upload_bytes=200_000))
    instance.create_organization("acme")
    instance.create_organization("other")
    yield instance
    instance.close()


@pytest.fixture
def api(store: LocalStore) -> Iterator[httpx.Client]:
    server = make_server(store, lambda: [KEY], port=0, threads=4)
    with (
        running_server(server) as url,
        httpx.Client(
            base_url=url, headers={"Api-Key": KEY, "Api-Version": "1"}, timeout=30
        ) as client,
    ):
        yield client


def upload(api: httpx.Client, data: bytes, name: str = "cat.png", **fields: str) -> dict:  # type: ignore[type-arg]
    response = api.post("/sourceimages/acme", files={"filedata": (name, data)}, data=fields)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 1
    return body["items"][0]  # type: ignore[no-any-return]


def test_upload_returns_rokkas_shape(api: httpx.Client, store: LocalStore) -> None:
    data = images.png()
    item = upload(api, data, "2024/cat.png", **{"meta_user[0]": '{"int:views": 3}'})
    binary_hash = hashlib.sha1(data).hexdigest()
    assert list(item)[:12] == [
        "hash", "short_hash", "binary_hash", "created", "name", "mimetype", "format",
        "size", "width", "height", "organization", "link",
    ]  # fmt: skip
    assert item["binary_hash"] == binary_hash
    assert item["hash"] == hashlib.sha1((binary_hash + "a:0:{}").encode()).hexdigest()
    assert item["link"] == f"/sourceimages/acme/{item['hash']}"
    assert item["created"].endswith("+00:00")
    assert item["user_metadata"] == {"int:views": 3}
    assert store.get_source_image("acme", item["hash"]).name == "2024/cat.png"


def test_every_payload_form_of_the_clients(api: httpx.Client) -> None:
    # Go names the part "filename"; rokka.js encodes metadata twice and sends meta_dynamic whole
    go = api.post(
        "/sourceimages/acme",
        files={"filename": ("go.png", images.png(color=1))},
        data={"meta_dynamic[0][subject_area]": '{"x": 1, "y": 2}'},
    ).json()["items"][0]
    assert go["dynamic_metadata"]["subject_area"]["x"] == 1
    js = api.post(
        "/sourceimages/acme",
        files={"filedata": ("js.png", images.png(color=2))},
        data={
            "meta_user[0]": json.dumps(json.dumps({"a": "b"})),
            "meta_dynamic[0]": json.dumps(json.dumps({"version": {"text": "v"}})),
        },
    ).json()["items"][0]
    assert js["user_metadata"] == {"a": "b"} and js["dynamic_metadata"] == {
        "version": {"text": "v"}
    }


def test_get_list_download_and_search(api: httpx.Client) -> None:
    first = upload(api, images.png(color=1), "a.png")
    second = upload(api, images.jpeg(color=2), "dir/b.jpg")
    assert api.get(f"/sourceimages/acme/{first['short_hash']}").json()["hash"] == first["hash"]
    listing = api.get("/sourceimages/acme").json()
    assert listing["total"] == 2 and [i["name"] for i in listing["items"]] == ["dir/b.jpg", "a.png"]
    assert listing["cursor"] and listing["links"] == {}
    page = api.get("/sourceimages/acme", params={"limit": 1, "offset": 0}).json()
    assert (
        "cursor" not in page
        and page["links"]["next"]["href"] == "/sourceimages/acme?limit=1&offset=1"
    )
    found = api.get("/sourceimages/acme", params={"format": "jpg"}).json()
    assert [i["hash"] for i in found["items"]] == [second["hash"]]
    by_binary = api.get("/sourceimages/acme", params={"binaryHash": first["binary_hash"]}).json()
    assert by_binary["total"] == 1
    download = api.get(f"/sourceimages/acme/{second['hash']}/download")
    assert download.content == images.jpeg(color=2)
    assert download.headers["content-type"] == "image/jpeg"
    assert download.headers["content-disposition"].endswith('filename="b.jpg"')
    part = api.get(f"/sourceimages/acme/{second['hash']}/download", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == images.jpeg(color=2)[:10]


def test_cursor_paging_terminates_the_way_rokkas_clis_expect(api: httpx.Client) -> None:
    for i in range(5):
        upload(api, images.png(color=i), f"{i}.png")
    seen: list[str] = []
    params: dict[str, object] = {"limit": 2}
    previous = None
    for _ in range(10):
        body = api.get("/sourceimages/acme", params=params).json()
        if not body["items"] or body.get("cursor") in (None, previous):
            break
        seen += [i["name"] for i in body["items"]]
        previous = body["cursor"]
        params = {"limit": 2, "offset": body["cursor"]}
    assert sorted(seen) == [f"{i}.png" for i in range(5)]


def test_delete_restore_and_binary_hash_delete(api: httpx.Client, store: LocalStore) -> None:
    item = upload(api, images.png())
    assert api.delete(f"/sourceimages/acme/{item['hash']}").status_code == 204
    assert api.get(f"/sourceimages/acme/{item['hash']}").status_code == 404
    trashed = api.get(f"/sourceimages/acme/{item['hash']}", params={"deleted": "true"}).json()
    assert trashed["deleted"] is True
    restored = api.post(f"/sourceimages/acme/{item['hash']}/restore")
    assert restored.status_code == 200 and restored.json()["deleted"] is False
    deleted = api.delete("/sourceimages/acme", params={"binaryHash": item["binary_hash"]})
    assert deleted.status_code == 204
    assert store.list_source_images("acme").total == 0
    assert api.delete("/sourceimages/acme").status_code == 400


def test_copy_verbs(api: httpx.Client, store: LocalStore) -> None:
    item = upload(api, images.png())
    copied = api.request(
        "COPY", f"/sourceimages/acme/{item['hash']}", headers={"Destination": "other"}
    )
    assert copied.status_code == 201
    assert store.get_source_image("other", item["hash"]).name == "cat.png"
    again = api.request(
        "COPY", f"/sourceimages/acme/{item['hash']}", headers={"Destination": "other"}
    )
    assert again.status_code == 204
    refused = api.post(
        f"/sourceimages/acme/{item['hash']}/copy",
        headers={"Destination": "other", "Overwrite": "F"},
    )
    assert refused.status_code == 412 and refused.json() == {}
    missing = api.request(
        "COPY", f"/sourceimages/acme/{item['hash']}", headers={"Destination": "nope"}
    )
    assert missing.status_code == 400
    batch = api.post(
        "/sourceimages/acme/copy", json=[item["hash"], "abcdef"], headers={"Destination": "other"}
    )
    assert batch.json() == {"created": [], "existing": [item["hash"]], "notfound": ["abcdef"]}
    too_many = api.post(
        "/sourceimages/acme/copy",
        json=[f"{i:040x}" for i in range(101)],
        headers={"Destination": "other"},
    )
    assert too_many.status_code == 400


def test_metadata_routes(api: httpx.Client, store: LocalStore) -> None:
    item = upload(api, images.png())
    base = f"/sourceimages/acme/{item['hash']}"
    assert api.put(f"{base}/meta/user", json={"a": "1", "int:n": 2}).status_code == 204
    assert api.patch(f"{base}/meta/user", json={"a": None, "b": "x"}).status_code == 204
    assert api.get(f"{base}/meta/user").json() == {"int:n": 2, "b": "x"}
    assert api.get(f"{base}/meta/user/n").json() == 2
    assert api.put(f"{base}/meta/user/c", json="y").status_code == 204
    assert api.delete(f"{base}/meta/user/b").status_code == 204
    assert api.get(f"{base}/meta/user/b").status_code == 404
    assert api.delete(f"{base}/meta/user").status_code == 204
    assert store.get_source_image("acme", item["hash"]).user_metadata == {}
    renamed = api.put(f"{base}/name", json="new.png")
    assert renamed.status_code == 200 and renamed.json()["name"] == "new.png"
    locked = api.put(f"{base}/options/locked", json=True)
    assert locked.json()["locked"] is True
    refused = api.patch(f"{base}/meta/user", json={"a": "b"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == 403
    assert api.delete(base).status_code == 403


def test_dynamic_metadata_routes(api: httpx.Client, store: LocalStore) -> None:
    item = upload(api, images.png())
    base = f"/sourceimages/acme/{item['hash']}"
    created = api.put(
        f"{base}/meta/dynamic/subject_area", json={"x": 10, "y": 10, "width": 5, "height": 5}
    )
    assert created.status_code == 201
    new_hash = created.json()["hash"]
    assert new_hash != item["hash"] and "link" not in created.json()
    assert created.headers["location"] == f"/sourceimages/acme/{new_hash}"
    same = api.put(
        f"/sourceimages/acme/{new_hash}/meta/dynamic/subject_area",
        json={"x": 10, "y": 10, "width": 5, "height": 5},
    )
    assert same.status_code == 204
    removed = api.request(
        "DELETE",
        f"/sourceimages/acme/{new_hash}/meta/dynamic/subject_area",
        params={"deletePrevious": "true"},
        content=b'{"deletePrevious": true}',
    )
    assert removed.status_code == 201 and removed.json()["hash"] == item["hash"]
    assert api.get(f"/sourceimages/acme/{new_hash}").status_code == 404
    bad = api.put(f"{base}/meta/dynamic/nonsense", json={})
    assert bad.status_code == 400 and "unknown dynamic metadata" in bad.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/sourceimages/nope", {}, 404),
        ("GET", "/sourceimages/acme/ZZZ", {}, 400),
        ("GET", "/sourceimages/acme/abcdef", {}, 404),
        ("GET", "/sourceimages/acme", {"params": {"limit": "9999"}}, 400),
        ("GET", "/sourceimages/acme", {"params": {"bogus": "1"}}, 400),
        ("POST", "/sourceimages/acme", {"data": {"nothing": "here"}}, 400),
        ("POST", "/sourceimages/acme", {"files": {"filedata": ("x.bin", bytes(range(256)))}}, 415),
        (
            "POST",
            "/sourceimages/acme",
            {"files": {"filedata": ("x.png", b"\x89PNG\r\n\x1a\nxx")}},
            400,
        ),
        ("POST", "/sourceimages/acme", {"files": {"f": ("x.png", bytes(300_000))}}, 413),
        ("POST", "/sourceimages/acme", {"data": {"url[0]": "http://127.0.0.1:9/a.png"}}, 400),
        ("POST", "/sourceimages/acme", {"data": {"url[0]": "file:///etc/passwd"}}, 400),
        (
            "POST",
            "/sourceimages/acme",
            {"files": {"filedata": ("x.png", images.png())}, "data": {"meta_user[0]": "{bad"}},
            400,
        ),
        ("PUT", "/sourceimages/acme/abcdef/meta/user", {"content": b"[1,2]"}, 400),
        ("PATCH", "/organizations/acme", {}, 405),
        ("GET", "/nothing/here", {}, 404),
        ("PUT", "/organizations/Bad Name", {"json": {"billing_email": "a@b.c"}}, 400),
    ],
)
def test_bad_input_gets_a_wrapped_error_and_changes_nothing(
    api: httpx.Client,
    store: LocalStore,
    method: str,
    path: str,
    kwargs: dict,
    status: int,  # type: ignore[type-arg]
) -> None:
    response = api.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == status
    assert store.list_source_images("acme").total == 0


@pytest.mark.parametrize(
    "headers", [{}, {"Api-Key": ""}, {"Api-Key": "wrong"}, {"Api-Key": "ü".encode() * 70}]
)
def test_invalid_credentials_get_rokkas_flat_body(
    api: httpx.Client, headers: dict[str, str]
) -> None:
    response = httpx.get(f"{api.base_url}/sourceimages/acme", headers=headers)
    assert response.status_code == 403
    assert response.json()["invalid_authentication"] is True


def test_organizations(api: httpx.Client) -> None:
    created = api.put("/organizations/new-org", json={"billing_email": "a@b.c"})
    assert created.status_code == 200
    assert created.json()["name"] == "new-org" and created.json()["billing_email"] == "a@b.c"
    assert api.get("/organizations/new-org").json()["id"] == created.json()["id"]
    assert api.put("/organizations/new-org", json={}).status_code == 409
    assert api.get("/").json()["resources"]


def test_zip_download_of_a_listing(api: httpx.Client) -> None:
    import io
    import zipfile

    upload(api, images.png(color=1), "a.png")
    upload(api, images.jpeg(color=2), "dir/b.jpg")
    response = api.get("/sourceimages/acme/download", params={"format": "png"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == ["a.png"]
    assert archive.read("a.png") == images.png(color=1)
    everything = zipfile.ZipFile(io.BytesIO(api.get("/sourceimages/acme/download").content))
    assert sorted(everything.namelist()) == ["a.png", "dir/b.jpg"]


def test_tokens(api: httpx.Client) -> None:
    issued = api.get("/user/apikeys/token", params={"expires_in": 60}).json()
    assert issued["payload"]["expt"] == 60 and issued["payload"]["ips"] == ["127.0.0.1"]
    bearer = {"Authorization": f"Bearer {issued['token']}"}
    assert httpx.get(f"{api.base_url}/sourceimages/acme", headers=bearer).status_code == 200
    forged = {"Authorization": f"Bearer {issued['token'][:-4]}AAAA"}
    refused = httpx.get(f"{api.base_url}/sourceimages/acme", headers=forged)
    assert refused.status_code == 401 and refused.json()["invalid_authentication"] is True
    elsewhere = api.get("/user/apikeys/token", params={"ips": "10.9.9.9"}).json()["token"]
    moved = httpx.get(
        f"{api.base_url}/sourceimages/acme", headers={"Authorization": f"Bearer {elsewhere}"}
    )
    assert moved.status_code == 401
    assert (
        api.get(
            "/user/apikeys/token", params={"no_ip_protection": "true", "ips": "1.2.3.4"}
        ).status_code
        == 400
    )


def test_organization_options_routes(api: httpx.Client) -> None:
    one = api.put("/organizations/acme/options/remote_basepath", json="https://x.org/")
    assert one.status_code == 200 and one.json()["options"] == {"remote_basepath": "https://x.org/"}
    many = api.put("/organizations/acme/options", json={"protect_dynamic_stack": True})
    assert many.json()["options"] == {
        "remote_basepath": "https://x.org/",
        "protect_dynamic_stack": True,
    }
    assert api.put("/organizations/acme/options/bogus", json=1).status_code == 400
