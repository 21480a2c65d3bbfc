"""Roles checked by what they do to the store, not by status codes: every operation of the
REST API for every rokka role, the destination of copies and moves, and that an organization
one is no member of answers exactly as one that does not exist."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import images
import pytest

from rokkafs.access.registry import AccessRegistry
from rokkafs.model import SourceImage
from rokkafs.rokka.search import SearchQuery
from rokkafs.server import make_server, running_server
from rokkafs.store.local import LocalStore

ROLES = (
    "read",
    "write",
    "upload",
    "admin",
    "sourceimages:read",
    "sourceimages:write",
    "sourceimages:unlock",
    "sourceimages:download:protected",
)


@dataclass
class Org:
    url: str
    store: LocalStore
    registry: AccessRegistry
    keys: dict[str, str]
    image: SourceImage  # live, unprotected
    protected: SourceImage  # live, protected
    trashed: SourceImage  # in the trash


@pytest.fixture
def org(tmp_path: Path) -> Iterator[Org]:
    data = tmp_path / "data"
    store = LocalStore(data)
    registry = AccessRegistry(data)
    for name in ("a", "b"):
        store.create_organization(name)
    image = store.create_source_image("a", io.BytesIO(images.png(color=1)), name="x.png")
    protected = store.create_source_image(
        "a", io.BytesIO(images.png(color=2)), name="p.png", protected=True
    )
    trashed = store.create_source_image("a", io.BytesIO(images.png(color=3)), name="t.png")
    store.delete_source_image("a", trashed.hash)
    keys = {}
    for role in ROLES:
        user, key = registry.create_user(f"{role.replace(':', '-')}@example.org")
        registry.set_membership("a", user.id, [role])
        registry.set_membership("b", user.id, ["read"])  # (so a copy into b is a question of write)
        keys[role] = key
    for name, (in_a, in_b) in COMBINED.items():  # (roles that only act together)
        user, key = registry.create_user(f"{name.replace(':', '-').replace('+', '.')}@example.org")
        registry.set_membership("a", user.id, in_a)
        registry.set_membership("b", user.id, in_b)
        keys[name] = key
    server = make_server(store, lambda: [], port=0, data_dir=data, registry=registry)
    with running_server(server) as url:
        yield Org(url, store, registry, keys, image, protected, trashed)
    registry.close()
    store.close()


def live(org: Org, name: str = "a") -> dict[str, SourceImage]:
    return {i.hash: i for i in org.store.list_source_images(name, SearchQuery(limit=100)).items}


def named(org: Org, name: str) -> SourceImage | None:
    return org.store.find_by_name("a", name)


Request = Callable[[httpx.Client, Org], httpx.Response]
Effect = Callable[[Org, httpx.Response], bool]

# operation -> (the request, whether its effect is there afterwards)
OPERATIONS: dict[str, tuple[Request, Effect]] = {
    "get": (
        lambda c, o: c.get(f"/sourceimages/a/{o.image.hash}"),
        lambda o, r: r.status_code == 200 and r.json()["hash"] == o.image.hash,
    ),
    "list": (
        lambda c, o: c.get("/sourceimages/a"),
        lambda o, r: r.status_code == 200 and {i["name"] for i in r.json()["items"]} >= {"x.png"},
    ),
    "download": (
        lambda c, o: c.get(f"/sourceimages/a/{o.image.hash}/download"),
        lambda o, r: r.status_code == 200 and r.content == images.png(color=1),
    ),
    "download-protected": (
        lambda c, o: c.get(f"/sourceimages/a/{o.protected.hash}/download"),
        lambda o, r: r.status_code == 200 and r.content == images.png(color=2),
    ),
    "upload": (
        lambda c, o: c.post("/sourceimages/a", files={"filedata": ("n.png", images.png(color=9))}),
        lambda o, r: named(o, "n.png") is not None,
    ),
    "patch-meta": (
        lambda c, o: c.patch(f"/sourceimages/a/{o.image.hash}/meta/user", json={"k": "v"}),
        lambda o, r: dict(live(o)[o.image.hash].user_metadata) == {"k": "v"},
    ),
    "dynamic-meta": (
        lambda c, o: c.put(
            f"/sourceimages/a/{o.image.hash}/meta/dynamic/subject_area",
            json={"x": 1, "y": 1},
        ),
        lambda o, r: any("subject_area" in i.dynamic_metadata for i in live(o).values()),
    ),
    "mtime": (
        lambda c, o: c.put(
            f"/sourceimages/a/{o.image.hash}/options/mtime",
            json=1_500_000_000,
            headers={"X-Rokkafs-Extensions": "1"},
        ),
        lambda o, r: live(o)[o.image.hash].mtime == 1_500_000_000,
    ),
    "rename": (
        lambda c, o: c.put(f"/sourceimages/a/{o.image.hash}/name", json="renamed.png"),
        lambda o, r: live(o)[o.image.hash].name == "renamed.png",
    ),
    "lock": (
        lambda c, o: c.put(f"/sourceimages/a/{o.image.hash}/options/locked", json=True),
        lambda o, r: live(o)[o.image.hash].locked,
    ),
    "delete": (
        lambda c, o: c.delete(f"/sourceimages/a/{o.image.hash}"),
        lambda o, r: o.image.hash not in live(o),
    ),
    "restore": (
        lambda c, o: c.post(f"/sourceimages/a/{o.trashed.hash}/restore"),
        lambda o, r: o.trashed.hash in live(o),
    ),
    "copy-into-b": (
        lambda c, o: c.post(f"/sourceimages/a/{o.image.hash}/copy", headers={"Destination": "b"}),
        lambda o, r: o.image.hash in live(o, "b"),
    ),
    "memberships": (
        lambda c, o: c.get("/organizations/a/memberships"),
        lambda o, r: r.status_code == 200 and len(r.json()["items"]) == len(ROLES) + len(COMBINED),
    ),
}
READ = {"get", "list", "download"}
WRITE = {"upload", "patch-meta", "dynamic-meta", "mtime", "rename", "delete", "restore"}
COMBINED = {
    "read+sourceimages:download:protected": (["read", "sourceimages:download:protected"], ["read"]),
    "write+write-in-b": (["write"], ["write"]),
}
ALLOWED = {
    "read": READ,
    "sourceimages:read": READ,
    "write": READ | WRITE,
    "sourceimages:write": READ | WRITE,
    "upload": {"upload"},
    "admin": set(OPERATIONS) - {"copy-into-b"},  # (b: read only)
    "sourceimages:unlock": {"lock"},
    "sourceimages:download:protected": set(),  # (an add-on to read: alone it reads nothing)
    "read+sourceimages:download:protected": READ | {"download-protected"},
    "write+write-in-b": READ | WRITE | {"copy-into-b"},
}


@pytest.mark.parametrize("role", [*ROLES, *COMBINED])
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_rest_role_matrix_by_effect(org: Org, role: str, operation: str) -> None:
    request, effect = OPERATIONS[operation]
    before = (live(org), live(org, "b"))
    with httpx.Client(base_url=org.url, headers={"Api-Key": org.keys[role]}, timeout=30) as c:
        response = request(c, org)
    if operation in ALLOWED[role]:
        assert effect(org, response), (response.status_code, response.text)
    else:
        assert response.status_code == 403, response.text
        assert not effect(org, response)
        assert (live(org), live(org, "b")) == before


def dav(org: Org, role: str) -> httpx.Client:
    return httpx.Client(base_url=f"{org.url}/dav", auth=("me", org.keys[role]), timeout=30)


def test_copies_and_moves_need_write_in_the_destination(org: Org) -> None:
    with dav(org, "admin") as admin:
        assert admin.put("/a/.notes~", content=b"a backup").status_code == 201
    with dav(org, "write") as writer:  # write in a, read in b
        target = {"Destination": f"{org.url}/dav/b/x.png"}
        assert writer.request("COPY", "/a/x.png", headers=target).status_code == 403
        side = {"Destination": f"{org.url}/dav/b/.notes~"}
        assert writer.request("MOVE", "/a/.notes~", headers=side).status_code == 403
        assert writer.get("/a/.notes~").content == b"a backup"
        assert writer.get("/b/.notes~").status_code == 404
    assert live(org, "b") == {}


def test_a_foreign_organization_answers_as_a_missing_one(org: Org) -> None:
    """Nothing in an answer tells that an organization one is no member of exists."""
    org.store.create_organization("hidden-one")
    hidden = org.store.create_source_image(
        "hidden-one", io.BytesIO(images.png(color=5)), name="h.png"
    )
    outsider, key = org.registry.create_user("outsider@example.org")
    org.registry.set_membership("b", outsider.id, ["admin"])

    def answers(name: str) -> list[tuple[int, str]]:
        with httpx.Client(base_url=org.url, headers={"Api-Key": key}, timeout=30) as c:
            found = [
                c.get(f"/sourceimages/{name}"),
                c.get(f"/sourceimages/{name}/{hidden.hash}"),
                c.get(f"/sourceimages/{name}/{hidden.hash}/download"),
                c.post(f"/sourceimages/{name}", files={"filedata": ("n.png", images.png())}),
                c.get(f"/organizations/{name}"),
                c.get(f"/organizations/{name}/memberships"),
                c.post(f"/sourceimages/b/{hidden.hash}/copy", headers={"Destination": name}),
            ]
        with httpx.Client(base_url=f"{org.url}/dav", auth=("me", key), timeout=30) as c:
            found += [
                c.get(f"/{name}/h.png"),
                c.request("PROPFIND", f"/{name}/", headers={"Depth": "0"}),
                c.put(f"/{name}/new.png", content=images.png()),
                c.request("MKCOL", f"/{name}/folder"),
            ]
        return [(r.status_code, r.text.replace(name, "ORG")) for r in found]

    assert answers("hidden-one") == answers("absent-one")
    assert [i.name for i in org.store.list_source_images("hidden-one").items] == ["h.png"]


def test_every_face_state_method_checks_before_it_acts(tmp_path: Path) -> None:
    """Each public method of AuthorizedFaces asks the one check for the right organization
    and permission, and a refusal leaves the state as it was."""
    from rokkafs.access.faces import AuthorizedFaces
    from rokkafs.errors import Forbidden
    from rokkafs.provider.faces import Faces
    from rokkafs.provider.facestate import FaceState

    faces = FaceState(tmp_path)
    side = faces.put_file("a", "f/.DS_Store", None, 1.0)
    faces.add_folder("a", "f")
    asked: list[tuple[str, str]] = []

    def refuse(org: str, permission: str) -> None:
        asked.append((org, permission))
        raise Forbidden(f"no {permission} in {org}")

    guarded = AuthorizedFaces(faces, refuse)
    calls: dict[str, tuple[Callable[[], object], tuple[str, str]]] = {
        "add_folder": (lambda: guarded.add_folder("a", "g"), ("a", "write")),
        "has_folder": (lambda: guarded.has_folder("a", "f"), ("a", "read")),
        "folders_below": (lambda: guarded.folders_below("a", ""), ("a", "read")),
        "folder_mtime": (lambda: guarded.folder_mtime("a", "f"), ("a", "read")),
        "set_folder_mtime": (lambda: guarded.set_folder_mtime("a", "f", 5.0), ("a", "write")),
        "remove_folders": (lambda: guarded.remove_folders("a", "f"), ("a", "write")),
        "move_prefix": (lambda: guarded.move_prefix("a", "f", "g", "b"), ("a", "write")),
        "put_file": (lambda: guarded.put_file("a", "x~", None, 2.0), ("a", "write")),
        "get_file": (lambda: guarded.get_file("a", "f/.DS_Store"), ("a", "read")),
        "file_or_folder": (lambda: guarded.file_or_folder("a", "f"), ("a", "read")),
        "files_below": (lambda: guarded.files_below("a", ""), ("a", "read")),
        "open_file": (lambda: guarded.open_file(side), ("a", "read")),
        "delete_file": (lambda: guarded.delete_file("a", "f/.DS_Store"), ("a", "write")),
        "move_file": (lambda: guarded.move_file("a", "f/.DS_Store", "b", "y"), ("a", "write")),
        "copy_file": (lambda: guarded.copy_file(side, "b", "y", 3.0), ("a", "read")),
        "set_mtime": (lambda: guarded.set_mtime("a", "f/.DS_Store", 4.0), ("a", "write")),
    }
    public = {n for n in vars(Faces) if not n.startswith("_") and callable(vars(Faces)[n])}
    assert public == set(calls)
    for name, (call, first) in calls.items():
        asked.clear()
        with pytest.raises(Forbidden):
            call()
        assert asked == [first], name
    assert faces.files_below("a", "") == [side] and faces.folders_below("a", "") == {"f": None}
    assert faces.files_below("b", "") == [] and faces.get_file("a", "x~") is None
    # a destination is checked too, after the source
    allowed_source: list[tuple[str, str]] = []

    def only_a(org: str, permission: str) -> None:
        allowed_source.append((org, permission))
        if org != "a":
            raise Forbidden(f"no {permission} in {org}")

    guarded = AuthorizedFaces(faces, only_a)
    for call in (
        lambda: guarded.move_file("a", "f/.DS_Store", "b", "y"),
        lambda: guarded.copy_file(side, "b", "y", 3.0),
        lambda: guarded.move_prefix("a", "f", "g", "b"),
    ):
        with pytest.raises(Forbidden):
            call()
    assert ("b", "write") in allowed_source
    assert faces.files_below("b", "") == [] and faces.get_file("a", "f/.DS_Store") == side
    faces.close()
