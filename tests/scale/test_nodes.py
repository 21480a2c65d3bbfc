"""Several ``rokkafs serve`` nodes on one PostgreSQL index and one shared blob folder: what one
node stores, every node shows and serves; the command line works on such a store."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import images
import psycopg
import pytest
from blobsupport import staged_blob
from davsupport import put_at_once
from postgres import PostgresCluster
from support import free_port, in_threads, rokkafs_mount

from rokkafs.access.registry import AccessRegistry
from rokkafs.model import SourceImage
from rokkafs.provider.facestate import FaceState
from rokkafs.rokka.search import Filter, SearchQuery
from rokkafs.store.base import Store
from rokkafs.store.blobs.files import FileBlobStorage
from rokkafs.store.index.postgres import PostgresIndex
from rokkafs.store.opening import open_blobs
from rokkafs.webdav.davstate import DavState

COLOUR = (
    '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:C="http://example.org/c">'
    "<D:set><D:prop><C:colour>blue</C:colour></D:prop></D:set></D:propertyupdate>"
)
ASK_COLOUR = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:C="http://example.org/c">'
    "<D:prop><C:colour/></D:prop></D:propfind>"
)
LOCK_BODY = (
    '<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope>'
    "<D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"
)


def shared_options(postgres: PostgresCluster, tmp_path: Path) -> tuple[str, ...]:
    return ("--index", postgres.new_database(), "--blobs", f"file://{tmp_path / 'shared'}")


@contextmanager
def nodes(
    count: int,
    options: tuple[str, ...],
    tmp_path: Path,
    started: list[Any] | None = None,
    environment: dict[str, str] | None = None,
    serve_options: tuple[str, ...] = (),
) -> Iterator[list[str]]:
    """Start ``count`` serve nodes at the same moment (each its own --data); yield their URLs
    (their processes are appended to ``started``); ``environment`` adds variables,
    ``serve_options`` options of ``serve``."""
    import os

    ports = [free_port() for _ in range(count)]
    started = [] if started is None else started
    started += [
        subprocess.Popen(
            [sys.executable, "-m", "rokkafs.cli", "--data", str(tmp_path / f"node{i}"),
             *options, "serve", "--port", str(port), *serve_options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(environment or {})},
        )
        for i, port in enumerate(ports)
    ]  # fmt: skip
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 60
        for url, process in zip(urls, started, strict=True):
            while True:
                try:
                    httpx.get(url)
                    break
                except httpx.TransportError:
                    assert process.poll() is None, process.communicate()
                    assert time.monotonic() < deadline, "a node did not come up"
                    time.sleep(0.2)
        yield urls
    finally:
        for process in started:
            if process.poll() is None:
                process.terminate()
        for process in started:
            process.communicate(timeout=30)


@pytest.mark.parametrize("bytes_in", ["folder", "bucket"])
def test_what_one_node_stores_the_others_serve(
    postgres: PostgresCluster, tmp_path: Path, request: pytest.FixtureRequest, bytes_in: str
) -> None:
    options = shared_options(postgres, tmp_path)
    if bytes_in == "bucket":  # (nothing on any node's disk that another needs)
        options = (*options[:2], "--blobs", request.getfixturevalue("s3").new_url())
    cli = [sys.executable, "-m", "rokkafs.cli", "--data", str(tmp_path / "node0"), *options]
    assert subprocess.run([*cli, "org", "create", "demo"], capture_output=True).returncode == 0
    picture = images.png(color=31)
    with nodes(3, options, tmp_path) as (one, two, three):
        # the nodes started together made one administrator, whose key works on every node
        key_files = [tmp_path / f"node{i}" / "admin-api-key" for i in range(3)]
        made = [f for f in key_files if f.exists()]
        assert len(made) == 1
        key = made[0].read_text().strip()
        auth = ("me", key)
        put = httpx.put(f"{one}/dav/demo/cat.png", content=picture, auth=auth)
        assert put.status_code == 201
        for url in (two, three):
            got = httpx.get(f"{url}/dav/demo/cat.png", auth=auth)
            assert got.status_code == 200 and got.content == picture
            listing = httpx.get(f"{url}/sourceimages/demo", headers={"Api-Key": key}).json()
            assert [i["name"] for i in listing["items"]] == ["cat.png"]
        # a user made on one node logs in on another, with the roles given on a third
        signed = httpx.post(f"{one}/users", json={"email": "ann@example.org"}).json()
        member = {"roles": ["read"]}
        added = httpx.put(
            f"{two}/organizations/demo/memberships/{signed['id']}",
            json=member,
            headers={"Api-Key": key},
        )
        assert added.status_code in (200, 201), added.text
        seen = httpx.get(f"{three}/sourceimages/demo", headers={"Api-Key": signed["api_key"]})
        assert seen.status_code == 200 and seen.json()["total"] == 1
        # side files, empty folders, dead properties and locks are shared too
        assert httpx.put(f"{one}/dav/demo/.DS_Store", content=b"bud1", auth=auth).is_success
        assert httpx.request("MKCOL", f"{one}/dav/demo/empty", auth=auth).status_code == 201
        assert httpx.get(f"{two}/dav/demo/.DS_Store", auth=auth).content == b"bud1"
        folder = httpx.request("PROPFIND", f"{three}/dav/demo/empty/", auth=auth)
        assert folder.status_code == 207
        patched = httpx.request("PROPPATCH", f"{one}/dav/demo/cat.png", auth=auth, content=COLOUR)
        assert patched.status_code == 207
        asked = httpx.request(
            "PROPFIND", f"{two}/dav/demo/cat.png", auth=auth, headers={"Depth": "0"},
            content=ASK_COLOUR,
        )  # fmt: skip
        assert "blue" in asked.text
        locked = httpx.request("LOCK", f"{one}/dav/demo/cat.png", auth=auth, content=LOCK_BODY)
        assert locked.status_code == 200
        # another node refuses a write at once (and the file stays as it was)
        refused = httpx.put(f"{three}/dav/demo/cat.png", content=images.png(color=9), auth=auth)
        assert refused.status_code == 423
        assert httpx.get(f"{two}/dav/demo/cat.png", auth=auth).content == picture
        token = {"Lock-Token": locked.headers["Lock-Token"]}
        assert httpx.request(
            "UNLOCK", f"{two}/dav/demo/cat.png", auth=auth, headers=token
        ).is_success
        # eight clients LOCK one new name at once, over the three nodes: one of them gets it
        import threading

        answers: list[int] = []
        start = threading.Barrier(8)

        def take(url: str) -> None:
            start.wait()
            answers.append(
                httpx.request(
                    "LOCK", f"{url}/dav/demo/contested.png", auth=auth, content=LOCK_BODY
                ).status_code
            )

        in_threads(take, [(u,) for u in (one, two, three) * 3][:8])
        # (201 if its LOCK made the name, 200 if another request's placeholder came first)
        assert sorted(answers)[1:] == [423] * 7 and sorted(answers)[0] in (200, 201), answers
        # eight writers of one path, spread over the nodes: one file, the rest in the trash
        servers = [(f"{url}/dav", key) for url in (one, two, three)]
        statuses = put_at_once(servers, "demo/same.png", range(40, 48))
        assert len(statuses) == 8
        assert set(statuses) <= {201, 204}
    index = PostgresIndex(options[1])
    with index.read() as tx:
        named = SearchQuery(filters=(Filter("name", value="same.png"),), limit=20)
        live = tx.search("demo", named, trash_cutoff=0).items
        trashed = tx.search("demo", replace(named, deleted=True), trash_cutoff=0).items
    index.close()
    assert len(live) == 1 and len(trashed) == 7  # one file, every earlier write in the trash
    registry = AccessRegistry(tmp_path, database_url=options[1])
    assert [u.email for u in registry.users()] == ["admin", "ann@example.org"]
    registry.close()
    listed = subprocess.run([*cli, "ls", "demo"], capture_output=True, text=True)
    assert listed.returncode == 0 and "cat.png" in listed.stdout and "same.png" in listed.stdout
    check = subprocess.run([*cli, "check", "--deep"], capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.strip().endswith("ok"), check.stdout
    names = {b.blob_id for b in open_blobs(options[3], tmp_path / "look").iter_blobs()}
    assert hashlib.sha1(picture).hexdigest() in names
    assert not (tmp_path / "node0" / "index.sqlite3").exists()  # (the index is the database)


def every_record(store: Store) -> dict[str, list[SourceImage]]:
    """Every image record (live and trashed, all their fields) of the test's organizations."""
    return {
        org: sorted(
            (
                image
                for deleted in (False, True)
                for image in store.list_source_images(org, SearchQuery(deleted=deleted)).items
            ),
            key=lambda image: image.hash,
        )
        for org in ("demo", "other")
    }


def test_an_embedded_store_moves_into_postgresql(postgres: PostgresCluster, tmp_path: Path) -> None:
    """``migrate-index`` copies every organization and record (live, trashed, variants,
    metadata, locks) into PostgreSQL; run twice it changes nothing; the store then works on
    the database with the bytes where they were."""
    import io

    from rokkafs.store.local import LocalStore

    data = tmp_path / "data"
    store = LocalStore(data)
    store.create_organization("demo")
    store.create_organization("other")
    plain = store.create_source_image("demo", io.BytesIO(images.png(color=1)), name="a/x.png")
    store.patch_user_metadata("demo", plain.hash, {"title": "X", "int:views": 2})
    store.set_locked("demo", plain.hash, True)
    store.set_dynamic_metadata("demo", plain.hash, "version", {"text": "b"})
    gone = store.create_source_image("demo", io.BytesIO(images.png(color=2)), name="gone.png")
    store.delete_source_image("demo", gone.hash)
    store.copy_source_image("demo", plain.hash, "other")
    before = every_record(store)
    store.close()
    # the state beside the index: users and keys, side files and folders, WebDAV properties
    registry = AccessRegistry(data)
    admin, admin_key = registry.create_user("admin", superuser=True)
    registry.close()
    faces = FaceState(data)
    faces.put_file("demo", "a/.DS_Store", staged_blob(faces.blobs, b"bud1"), 7.0)
    faces.add_folder("demo", "empty")
    faces.close()
    dav = DavState(data)
    dav.table("properties")["/demo/a/x.png"] = {"{urn:x}colour": "<colour>blue</colour>"}
    dav.close()
    url = postgres.new_database()
    cli = [sys.executable, "-m", "rokkafs.cli", "--data", str(data)]
    rows_after: list[object] = []
    for _ in range(2):  # (a second run writes nothing new)
        moved = subprocess.run([*cli, "migrate-index", url], capture_output=True, text=True)
        assert moved.returncode == 0, moved.stderr
        assert "moved 2 organizations, 4 images" in moved.stdout, moved.stdout
        assert "moved 1 users, 1 side files, 1 WebDAV properties and locks" in moved.stdout
        with psycopg.connect(url) as database:  # (every column, the sequence numbers too)
            rows_after.append(database.execute("SELECT * FROM images ORDER BY seq").fetchall())
    assert rows_after[0] == rows_after[1]
    registry = AccessRegistry(tmp_path / "node", database_url=url)
    assert registry.users() == [admin]
    principal = registry.authenticate(admin_key)
    assert principal is not None and principal.user.id == admin.id
    registry.close()
    faces = FaceState(tmp_path / "node", database_url=url, blobs=FileBlobStorage(data / "side"))
    side = faces.get_file("demo", "a/.DS_Store")
    assert side is not None and side.mtime == 7.0
    with faces.open_file(side) as handle:
        assert handle.read() == b"bud1"
    assert faces.has_folder("demo", "empty")
    faces.close()
    dav = DavState(tmp_path / "node", database_url=url)
    colour = dav.table("properties")["/demo/a/x.png"]
    assert colour == {"{urn:x}colour": "<colour>blue</colour>"}
    dav.close()
    index = PostgresIndex(url)
    on_database = LocalStore(data, index=index)
    after = every_record(on_database)
    assert after == before
    assert on_database.check(deep=True).ok
    with on_database.open_source_image("other", plain.hash) as handle:
        assert handle.read() == images.png(color=1)
    on_database.close()
    listed = subprocess.run([*cli, "--index", url, "ls", "demo"], capture_output=True, text=True)
    assert "a/x.png" in listed.stdout


def test_the_database_going_away_is_a_clear_503_and_rokkafs_recovers(tmp_path: Path) -> None:
    """The database stopped under a running node: clear 503s (nothing half-written), and
    once it is back the same node serves again without a restart."""
    from postgres import postgres_cluster

    with postgres_cluster() as cluster:
        options = shared_options(cluster, tmp_path)  # type: ignore[arg-type]
        cli = [sys.executable, "-m", "rokkafs.cli", "--data", str(tmp_path / "node0"), *options]
        assert subprocess.run([*cli, "org", "create", "demo"], capture_output=True).returncode == 0
        with nodes(1, options, tmp_path) as (url,):
            key = (tmp_path / "node0" / "admin-api-key").read_text().strip()
            auth = ("me", key)
            assert httpx.put(f"{url}/dav/demo/a.png", content=images.png(), auth=auth).is_success
            cluster.stop()
            down = httpx.get(f"{url}/sourceimages/demo", headers={"Api-Key": key}, timeout=60)
            assert down.status_code == 503, down.text
            put = httpx.put(
                f"{url}/dav/demo/b.png", content=images.png(color=1), auth=auth, timeout=60
            )
            assert put.status_code == 503
            cluster.start()
            deadline = time.monotonic() + 30
            while True:
                back = httpx.get(f"{url}/sourceimages/demo", headers={"Api-Key": key}, timeout=60)
                if back.status_code == 200:
                    break
                assert time.monotonic() < deadline, back.text
                time.sleep(0.5)
            assert [i["name"] for i in back.json()["items"]] == ["a.png"]  # (b.png: nothing)
            again = httpx.put(
                f"{url}/dav/demo/b.png", content=images.png(color=1), auth=auth, timeout=60
            )
            assert again.status_code == 201


def test_a_node_killed_mid_upload_leaves_the_others_serving(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    import base64
    import signal
    import socket
    from urllib.parse import urlsplit

    options = shared_options(postgres, tmp_path)
    cli = [sys.executable, "-m", "rokkafs.cli", "--data", str(tmp_path / "node0"), *options]
    assert subprocess.run([*cli, "org", "create", "demo"], capture_output=True).returncode == 0
    processes: list[Any] = []
    with nodes(2, options, tmp_path, processes) as (one, two):
        key = next(
            f.read_text().strip()
            for f in (tmp_path / "node0" / "admin-api-key", tmp_path / "node1" / "admin-api-key")
            if f.exists()
        )
        body = images.png(color=60, size=(900, 900))
        credentials = base64.b64encode(f"me:{key}".encode()).decode()
        parts = urlsplit(one)
        with socket.create_connection((parts.hostname, parts.port)) as raw:
            raw.sendall(
                f"PUT /dav/demo/half.png HTTP/1.1\r\nHost: x\r\nAuthorization: Basic "
                f"{credentials}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body[: len(body) // 2]
            )
            time.sleep(0.3)
            processes[0].send_signal(signal.SIGKILL)  # (mid-upload)
            processes[0].wait(timeout=30)
        auth = ("me", key)
        assert httpx.put(f"{two}/dav/demo/whole.png", content=body, auth=auth).status_code == 201
        assert httpx.get(f"{two}/dav/demo/whole.png", auth=auth).content == body
        assert httpx.get(f"{two}/dav/demo/half.png", auth=auth).status_code == 404
    check = subprocess.run([*cli, "check", "--deep"], capture_output=True, text=True)
    assert check.returncode == 0 and "problem" not in check.stdout, check.stdout


@contextmanager
def mount(options: tuple[str, ...], data: Path, root: Path) -> Iterator[Path]:
    """``rokkafs mount`` in a child process on the nodes' database; unmounted at the end."""
    root.mkdir()
    log = data.parent / f"{root.name}.log"
    with rokkafs_mount(["--data", str(data), *options], root, log):
        yield root


def soon(check: Any, what: str) -> None:
    """Wait until ``check()`` holds: well within the mount's own cache time (10 s) and the
    kernel's of a mount without a change feed (5 s); a shared mount needs about 1 s."""
    deadline = time.monotonic() + 3.0
    while not check():
        assert time.monotonic() < deadline, f"the mount did not show {what} in time"
        time.sleep(0.05)


def test_a_mount_shows_other_nodes_changes_within_a_second(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    import os

    options = shared_options(postgres, tmp_path)
    cli = [sys.executable, "-m", "rokkafs.cli", "--data", str(tmp_path / "node0"), *options]
    assert subprocess.run([*cli, "org", "create", "demo"], capture_output=True).returncode == 0
    with (
        nodes(1, options, tmp_path) as (url,),
        mount(options, tmp_path / "mounter", tmp_path / "mnt") as root,
    ):
        key = (tmp_path / "node0" / "admin-api-key").read_text().strip()
        auth = ("me", key)
        folder = root / "demo"
        assert os.listdir(folder) == []  # (the mount has listed and cached the folder)
        assert not (folder / "cat.png").exists()
        first, second = images.png(color=1), images.png(color=2, size=(90, 90))
        assert httpx.put(f"{url}/dav/demo/cat.png", content=first, auth=auth).status_code == 201
        soon(lambda: os.listdir(folder) == ["cat.png"], "a new file in a listing")
        soon(lambda: (folder / "cat.png").exists(), "a new file")  # (after a 1 s negative entry)
        assert (folder / "cat.png").read_bytes() == first
        assert httpx.put(f"{url}/dav/demo/cat.png", content=second, auth=auth).is_success
        soon(lambda: (folder / "cat.png").read_bytes() == second, "a file's new bytes")
        assert (folder / "cat.png").stat().st_size == len(second)
        assert httpx.request("MKCOL", f"{url}/dav/demo/new", auth=auth).status_code == 201
        soon(lambda: (folder / "new").is_dir(), "a new folder")
        assert httpx.delete(f"{url}/dav/demo/cat.png", auth=auth).is_success
        soon(lambda: not (folder / "cat.png").exists(), "a deleted file gone")
        assert os.listdir(folder) == ["new"]
        trashed = sorted(p.name for p in (folder / ".trash").iterdir())
        assert len(trashed) == 2 and trashed[0] == "cat.png"  # (both versions)
