"""Several ``rokkafs serve`` nodes on one PostgreSQL index and one shared blob folder: what one
node stores, every node shows and serves; the command line works on such a store."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import httpx
import images
from davsupport import put_at_once
from postgres import PostgresCluster
from support import serving

from rokkafs.search import Filter, SearchQuery
from rokkafs.store.postgres_index import PostgresIndex


def shared_options(postgres: PostgresCluster, tmp_path: Path) -> tuple[str, ...]:
    return ("--index", postgres.new_database(), "--blobs", f"file://{tmp_path / 'shared'}")


def test_what_one_node_stores_the_others_serve(postgres: PostgresCluster, tmp_path: Path) -> None:
    options = shared_options(postgres, tmp_path)
    data = [tmp_path / f"node{i}" for i in range(3)]
    first_data = data[0]
    cli = [sys.executable, "-m", "rokkafs.cli", "--data", str(first_data), *options]
    assert subprocess.run([*cli, "org", "create", "demo"], capture_output=True).returncode == 0
    picture = images.png(color=31)
    with (
        serving(data[0], before=options) as (one, one_key, _),
        serving(data[1], before=options) as (two, two_key, _),
        serving(data[2], before=options) as (three, three_key, _),
    ):
        put = httpx.put(f"{one}/dav/demo/cat.png", content=picture, auth=("me", one_key))
        assert put.status_code == 201
        for url, key in ((two, two_key), (three, three_key)):
            got = httpx.get(f"{url}/dav/demo/cat.png", auth=("me", key))
            assert got.status_code == 200 and got.content == picture
            listing = httpx.get(f"{url}/sourceimages/demo", headers={"Api-Key": key}).json()
            assert [i["name"] for i in listing["items"]] == ["cat.png"]
        # eight writers of one path, spread over the nodes: one file, the rest in the trash
        servers = [(f"{one}/dav", one_key), (f"{two}/dav", two_key), (f"{three}/dav", three_key)]
        statuses = put_at_once(servers, "demo/same.png", range(40, 48))
        assert set(statuses) <= {201, 204}
    index = PostgresIndex(options[1])
    with index.read() as tx:
        named = SearchQuery(filters=(Filter("name", value="same.png"),), limit=20)
        live = tx.search("demo", named, trash_cutoff=0).items
        trashed = tx.search("demo", replace(named, deleted=True), trash_cutoff=0).items
    index.close()
    assert len(live) == 1 and len(trashed) == 7  # one file, every earlier write in the trash
    listed = subprocess.run([*cli, "ls", "demo"], capture_output=True, text=True)
    assert listed.returncode == 0 and "cat.png" in listed.stdout and "same.png" in listed.stdout
    check = subprocess.run([*cli, "check", "--deep"], capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.strip().endswith("ok"), check.stdout
    stored = (tmp_path / "shared" / "blobs").rglob("*")
    names = {p.name for p in stored if p.is_file()}
    assert hashlib.sha1(picture).hexdigest() in names
    assert not (first_data / "index.sqlite3").exists()  # (the index is the database)


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
    before = {
        org: sorted(
            (i.hash, i.name, i.deleted, i.locked, str(i.user_metadata), str(i.dynamic_metadata))
            for deleted in (False, True)
            for i in store.list_source_images(org, SearchQuery(deleted=deleted)).items
        )
        for org in ("demo", "other")
    }
    store.close()
    url = postgres.new_database()
    cli = [sys.executable, "-m", "rokkafs.cli", "--data", str(data)]
    for _ in range(2):  # (a second run writes nothing new)
        moved = subprocess.run([*cli, "migrate-index", url], capture_output=True, text=True)
        assert moved.returncode == 0, moved.stderr
        assert "moved 2 organizations, 4 images" in moved.stdout, moved.stdout
    index = PostgresIndex(url)
    on_database = LocalStore(data, index=index)
    after = {
        org: sorted(
            (i.hash, i.name, i.deleted, i.locked, str(i.user_metadata), str(i.dynamic_metadata))
            for deleted in (False, True)
            for i in on_database.list_source_images(org, SearchQuery(deleted=deleted)).items
        )
        for org in ("demo", "other")
    }
    assert after == before
    assert on_database.check(deep=True).ok
    with on_database.open_source_image("other", plain.hash) as handle:
        assert handle.read() == images.png(color=1)
    on_database.close()
    listed = subprocess.run([*cli, "--index", url, "ls", "demo"], capture_output=True, text=True)
    assert "a/x.png" in listed.stdout
