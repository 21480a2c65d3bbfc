"""Access control on every face: roles and operations, organization isolation, keys at rest,
malformed credentials."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import images
import pytest
from davsupport import property_statuses, responses

from rokkafs.access.registry import AccessRegistry
from rokkafs.access.roles import permissions_for
from rokkafs.errors import AlreadyExists, NotFound
from rokkafs.model import SourceImage
from rokkafs.rokka.search import SearchQuery
from rokkafs.server import make_server, running_server
from rokkafs.store.local import LocalStore


@dataclass
class World:
    url: str
    store: LocalStore
    registry: AccessRegistry
    keys: dict[str, str]  # role (or "admin-b") -> key
    data: Path
    image: str  # hash of an image in org "a"
    binary: str


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    data = tmp_path / "data"
    store = LocalStore(data)
    registry = AccessRegistry(data)
    for org in ("a", "b"):
        store.create_organization(org)
    image = store.create_source_image("a", io.BytesIO(images.png()), name="x.png")
    store.create_source_image("b", io.BytesIO(images.png(color=5)), name="secret.png")
    keys: dict[str, str] = {}
    for role in ("read", "write", "upload", "admin", "sourceimages:unlock"):
        user, key = registry.create_user(f"{role}@example.org")
        registry.set_membership("a", user.id, [role])
        keys[role] = key
    other, other_key = registry.create_user("b-admin@example.org")
    registry.set_membership("b", other.id, ["admin"])
    keys["admin-b"] = other_key
    server = make_server(store, lambda: [], port=0, data_dir=data, registry=registry)
    with running_server(server) as url:
        yield World(url, store, registry, keys, data, image.hash, image.binary_hash)
    registry.close()
    store.close()


def api(world: World, who: str) -> httpx.Client:
    return httpx.Client(base_url=world.url, headers={"Api-Key": world.keys[who]}, timeout=30)


def snapshot(world: World) -> list[tuple[str, str, bool, bool, str]]:
    items = world.store.list_source_images("a", SearchQuery(limit=100)).items
    return sorted((i.hash, i.name, i.locked, i.deleted, str(i.user_metadata)) for i in items)


def test_organization_isolation(world: World) -> None:
    secret = world.store.list_source_images("b").items[0]
    with api(world, "write") as client:
        probes = [
            client.get("/organizations/b"),
            client.get("/sourceimages/b"),
            client.get(f"/sourceimages/b/{secret.hash}"),
            client.get(f"/sourceimages/b/{secret.short_hash}"),
            client.get("/sourceimages/b", params={"binaryHash": secret.binary_hash}),
            client.request("COPY", f"/sourceimages/a/{world.image}", headers={"Destination": "b"}),
            client.get(f"/sourceimages/nope/{secret.hash}"),
        ]
        bodies = [
            (p.status_code, p.json()["error"]["message"].replace("'b'", "'nope'"))
            for p in probes[:5]
        ]
    assert all(p.status_code in (400, 404) for p in probes), [p.status_code for p in probes]
    assert secret.hash not in str([p.text for p in probes])
    assert (
        len({b for b in bodies}) <= 3
    )  # the same answers as for an organization that does not exist
    assert world.store.list_source_images("b").total == 1
    with httpx.Client(auth=("me", world.keys["write"])) as dav:
        listing = dav.request("PROPFIND", f"{world.url}/dav/", headers={"Depth": "1"})
        assert "/dav/a/" in listing.text and "/dav/b/" not in listing.text
        assert dav.get(f"{world.url}/dav/b/secret.png").status_code == 404


def test_webdav_read_member_cannot_write(world: World) -> None:
    with httpx.Client(base_url=f"{world.url}/dav", auth=("me", world.keys["read"])) as dav:
        assert dav.get("/a/x.png").status_code == 200
        assert dav.put("/a/new.png", content=images.png(color=3)).status_code == 403
        assert dav.delete("/a/x.png").status_code == 403
        moved = dav.request("MOVE", "/a/x.png", headers={"Destination": f"{world.url}/dav/a/y.png"})
        assert moved.status_code == 403
        patch = (
            '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:R="urn:rokkafs">'
            "<D:set><D:prop><R:locked>true</R:locked></D:prop></D:set></D:propertyupdate>"
        )
        answer = dav.request("PROPPATCH", "/a/x.png", content=patch)
        assert answer.status_code == 403 or property_statuses(answer.text) == {LOCKED: 403}
    with httpx.Client(base_url=f"{world.url}/dav", auth=("me", world.keys["write"])) as dav:
        answer = dav.request("PROPPATCH", "/a/x.png", content=patch)
        assert property_statuses(answer.text) == {LOCKED: 403}
        assert not world.store.get_source_image("a", world.image).locked
        copy = dav.request("COPY", "/a/x.png", headers={"Destination": f"{world.url}/dav/b/x.png"})
        assert copy.status_code in (403, 404, 409)
    unlocker, unlock_key = world.registry.create_user("unlocker@example.org")
    world.registry.set_membership("a", unlocker.id, ["read", "sourceimages:unlock"])
    with httpx.Client(base_url=f"{world.url}/dav", auth=("me", unlock_key)) as dav:
        answer = dav.request("PROPPATCH", "/a/x.png", content=patch)
        assert property_statuses(answer.text) == {LOCKED: 200}
    assert world.store.get_source_image("a", world.image).locked
    assert [i.name for i in world.store.list_source_images("a").items] == ["x.png"]


LOCKED = "{urn:rokkafs}locked"


def test_creating_an_organization_makes_the_creator_admin(world: World) -> None:
    with api(world, "read") as client:
        assert client.put("/organizations/mine", json={"billing_email": "x@y.z"}).status_code == 200
        members = client.get("/organizations/mine/memberships").json()
        assert [m["roles"] for m in members["items"]] == [["admin"]]
        user_id = members["items"][0]["user_id"]
        assert client.delete(f"/organizations/mine/memberships/{user_id}").status_code == 409


def test_user_and_key_routes(world: World) -> None:
    signed = httpx.post(f"{world.url}/users", json={"email": "new@example.org"}).json()
    assert len(signed["api_key"]) == 64 and signed["email"] == "new@example.org"
    with httpx.Client(base_url=world.url, headers={"Api-Key": signed["api_key"]}) as client:
        assert client.get("/user").json()["user_id"] == signed["id"]
        created = client.post("/user/apikeys", json={"comment": "laptop"}).json()
        assert created["comment"] == "laptop" and len(created["api_key"]) == 64
        assert len(client.get("/user/apikeys").json()) == 2
        current = client.get("/user/apikeys/current").json()["id"]
        assert client.delete(f"/user/apikeys/{current}").status_code == 403
        assert client.delete(f"/user/apikeys/{created['id']}").status_code == 204
        assert client.get("/sourceimages/a").status_code == 404  # not a member
    refused = httpx.get(f"{world.url}/sourceimages/a", headers={"Api-Key": created["api_key"]})
    assert refused.status_code == 403 and refused.json()["invalid_authentication"] is True


def test_membership_routes(world: World) -> None:
    with api(world, "admin") as admin:
        made = admin.post(
            "/organizations/a/memberships", json={"roles": ["read"], "comment": "bot"}
        )
        assert made.status_code == 201 and len(made.json()["api_key"]) == 64
        bot = made.json()["user_id"]
        changed = admin.put(f"/organizations/a/memberships/{bot}", json={"roles": ["write"]})
        assert changed.status_code == 200 and changed.json()["roles"] == ["write"]
        assert (
            admin.put(f"/organizations/a/memberships/{bot}", json={"roles": ["boss"]}).status_code
            == 400
        )
        assert admin.delete(f"/organizations/a/memberships/{bot}").status_code == 204
        assert admin.get(f"/organizations/a/memberships/{bot}").status_code == 404


def test_keys_are_not_stored_in_clear(world: World) -> None:
    secrets = list(world.keys.values())
    for path in world.data.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert not any(key.encode() in content for key in secrets), path


def test_registry_rules(tmp_path: Path) -> None:
    registry = AccessRegistry(tmp_path)
    user, _ = registry.create_user("a@b.c")
    for _ in range(4):
        registry.create_key(user.id)
    with pytest.raises(AlreadyExists):
        registry.create_key(user.id)
    with pytest.raises(NotFound):
        registry.revoke_key(user.id, "nope")
    registry.set_membership("org", user.id, ["admin"])
    with pytest.raises(AlreadyExists):
        registry.set_membership("org", user.id, ["read"])
    with pytest.raises(AlreadyExists):
        registry.remove_membership("org", user.id)
    assert registry.authenticate("x" * 64) is None and registry.authenticate("") is None
    registry.close()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Api-Key": ""},
        {"Api-Key": "short"},
        {"Api-Key": "x" * 5000},
        {"Api-Key": "é".encode() * 40},
    ],
)
def test_malformed_credentials_are_refused_not_500(
    world: World, headers: dict[str, object]
) -> None:
    response = httpx.get(f"{world.url}/sourceimages/a", headers=headers)
    assert response.status_code == 403


def cli(data: Path, *args: str) -> str:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "rokkafs.cli", "--data", str(data), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_cli_users_keys_members(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli(data, "org", "create", "team")
    out = cli(data, "user", "create", "ann@example.org")
    user_id = out.split()[1]
    key = out.split()[4]
    assert len(key) == 64
    assert "ann@example.org in team: read, upload" in cli(
        data, "member", "add", "team", user_id, "read", "upload"
    )
    assert user_id in cli(data, "member", "list", "team")
    second = cli(data, "key", "create", user_id, "--comment", "ci").split()
    assert second[1] in cli(data, "key", "list", user_id)
    cli(data, "key", "revoke", user_id, second[1])
    assert second[1] not in cli(data, "key", "list", user_id)
    registry = AccessRegistry(data)
    principal = registry.authenticate(key)
    assert (
        principal is not None
        and principal.may("team", "upload")
        and not principal.may("team", "write")
    )
    registry.close()
    cli(data, "member", "remove", "team", user_id)


@pytest.mark.parametrize(("role", "may_write"), [("read", False), ("write", True), ("admin", True)])
def test_fuse_mount_acts_as_one_user(tmp_path: Path, role: str, may_write: bool) -> None:
    import os
    import shutil
    import subprocess
    import sys
    import time

    if not Path("/dev/fuse").exists() or not shutil.which("fusermount3"):
        pytest.skip("no FUSE here")
    data, root = tmp_path / "data", tmp_path / "mnt"
    root.mkdir()
    store = LocalStore(data)
    for org in ("mine", "theirs"):
        store.create_organization(org)
    store.create_source_image("mine", io.BytesIO(images.png()), name="a.png")
    registry = AccessRegistry(data)
    reader, key = registry.create_user("reader@example.org")
    registry.set_membership("mine", reader.id, [role])
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rokkafs.cli",
            "--data",
            str(data),
            "mount",
            str(root),
            "--api-key",
            key,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not os.path.ismount(root):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        assert os.listdir(root) == ["mine"]
        assert (root / "mine" / "a.png").read_bytes() == images.png()
        assert not (root / "theirs").exists()
        if may_write:
            (root / "mine" / "b.png").write_bytes(images.png(color=1))
            os.unlink(root / "mine" / "b.png")
        else:
            with pytest.raises(PermissionError):
                os.unlink(root / "mine" / "a.png")
            with pytest.raises(PermissionError):
                (root / "mine" / "b.png").write_bytes(images.png(color=1))
    finally:
        subprocess.run(["fusermount3", "-u", "-z", str(root)], capture_output=True)
        process.wait(timeout=10)
        registry.close()
    assert [i.name for i in store.list_source_images("mine").items] == ["a.png"]
    store.close()


def test_failed_logins_are_slowed_down() -> None:
    from rokkafs.access.throttle import Throttle

    throttle = Throttle(free=3, window=60, ceiling=4)
    delays = []
    for _ in range(7):
        delays.append(throttle.delay("10.1.2.3"))
        throttle.failed("10.1.2.3")
    assert delays[:3] == [0.0, 0.0, 0.0]
    assert delays[3:] == sorted(delays[3:]) and 0 < delays[3] < delays[-1] <= 4
    assert throttle.delay("192.0.2.9") == 0.0  # other addresses are not affected


def _named(world: World, name: str) -> SourceImage | None:
    return world.store.find_by_name("a", name)


# each operation returns whether its effect is there (in the answer's content or the store)
DAV_OPERATIONS: dict[str, Callable[[httpx.Client, World], bool]] = {
    "propfind": lambda d, w: (
        "/dav/a/x.png" in responses(d.request("PROPFIND", "/a/", headers={"Depth": "1"}).text)
    ),
    "get": lambda d, w: d.get("/a/x.png").content == images.png(),
    "put": lambda d, w: (
        d.put("/a/put.png", content=images.png(color=4)).status_code > 0
        and _named(w, "put.png") is not None
    ),
    "meta": lambda d, w: (
        d.request("PROPPATCH", "/a/x.png", content=META_PATCH).status_code > 0
        and dict(w.store.get_source_image("a", w.image).user_metadata) == {"title": "t"}
    ),
    "move": lambda d, w: (
        d.request(
            "MOVE", "/a/x.png", headers={"Destination": f"{w.url}/dav/a/moved.png"}
        ).status_code
        > 0
        and _named(w, "moved.png") is not None
        and _named(w, "x.png") is None
    ),
}
META_PATCH = (
    '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:R="urn:rokkafs">'
    "<D:set><D:prop><R:meta.title>t</R:meta.title></D:prop></D:set></D:propertyupdate>"
)
DAV_ALLOWED = {
    "read": {"propfind", "get"},
    "write": set(DAV_OPERATIONS),
    "admin": set(DAV_OPERATIONS),
}


@pytest.mark.parametrize("role", list(DAV_ALLOWED))
@pytest.mark.parametrize("operation", list(DAV_OPERATIONS))
def test_webdav_role_matrix(world: World, role: str, operation: str) -> None:
    before = snapshot(world)
    with httpx.Client(base_url=f"{world.url}/dav", auth=("me", world.keys[role])) as dav:
        allowed = DAV_OPERATIONS[operation](dav, world)
    assert allowed == (operation in DAV_ALLOWED[role])
    if not allowed:
        assert snapshot(world) == before


# side files (.DS_Store, rsync temporaries…) are as private as the organization's images
def test_side_files_of_another_organization_stay_hidden(world: World) -> None:
    with httpx.Client(base_url=f"{world.url}/dav", auth=("me", world.keys["admin-b"])) as owner:
        assert owner.put("/b/.DS_Store", content=b"finder state").status_code in (201, 204)
        assert owner.get("/b/.DS_Store").content == b"finder state"
    with httpx.Client(base_url=f"{world.url}/dav", auth=("me", world.keys["write"])) as other:
        assert other.get("/b/.DS_Store").status_code == 404
        assert other.put("/b/.DS_Store", content=b"overwritten").status_code in (403, 404, 409)
        assert other.delete("/b/.DS_Store").status_code in (403, 404)
        found = other.request("PROPFIND", "/b/.DS_Store", headers={"Depth": "0"})
        assert found.status_code == 404
    with httpx.Client(base_url=f"{world.url}/dav", auth=("me", world.keys["admin-b"])) as owner:
        assert owner.get("/b/.DS_Store").content == b"finder state"


def test_a_read_member_cannot_change_side_files(world: World) -> None:
    with httpx.Client(base_url=f"{world.url}/dav", auth=("me", world.keys["admin"])) as admin:
        assert admin.put("/a/.DS_Store", content=b"state").status_code in (201, 204)
    with httpx.Client(base_url=f"{world.url}/dav", auth=("me", world.keys["read"])) as reader:
        assert reader.get("/a/.DS_Store").content == b"state"
        assert reader.put("/a/.DS_Store", content=b"changed").status_code == 403
        assert reader.put("/a/._x.png", content=b"apple double").status_code == 403
        assert reader.delete("/a/.DS_Store").status_code == 403
        assert reader.request("MKCOL", "/a/folder").status_code == 403
        assert reader.get("/a/.DS_Store").content == b"state"


def test_protected_originals_need_their_own_permission(world: World) -> None:
    data = images.png(color=11)
    protected = world.store.create_source_image(
        "a", io.BytesIO(data), name="guarded.png", protected=True
    )
    for who, allowed in (("read", False), ("write", False), ("admin", True)):
        with api(world, who) as client:
            response = client.get(f"/sourceimages/a/{protected.hash}/download")
            assert (response.status_code == 200) is allowed, (who, response.status_code)
            assert (response.content == data) is allowed
        with httpx.Client(base_url=f"{world.url}/dav", auth=("me", world.keys[who])) as dav:
            response = dav.get("/a/guarded.png")
            assert (response.status_code == 200) is allowed, (who, response.status_code)
            assert (response.content == data) is allowed


def test_cadaver_mkcol_at_the_root_by_a_member_creates_an_organization(
    world: World, tmp_path: Path
) -> None:
    """A user who is no administrator makes an organization with cadaver's mkcol: 201, and
    the session goes on in it as its admin (it answered 404 before, and a retry 405)."""
    from davsupport import cadaver

    picture = tmp_path / "cat.png"
    picture.write_bytes(images.png(color=8))
    script = f"mkcol fresh\ncd fresh\nput {picture} cat.png\nls\nquit"
    result = cadaver(f"{world.url}/dav/", world.keys["read"], script, tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed" not in result.stdout, result.stdout
    assert [i.name for i in world.store.list_source_images("fresh").items] == ["cat.png"]
    user = world.registry.authenticate(world.keys["read"])
    assert user is not None and user.grants["fresh"] == permissions_for(["admin"])
