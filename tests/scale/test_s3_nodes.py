"""Several nodes on one PostgreSQL and one S3 bucket: no node keeps anything another needs.
The same bytes uploaded through two nodes at once are one object; a big image stored through
one node is read back through another with Range requests, memory flat; the object store
stopped mid-run gives clear 503s and nothing half-written, and rokkafs recovers by itself."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import images
import psutil
from blobsupport import staged_blob
from postgres import PostgresCluster
from s3server import S3Server, s3_server
from support import in_threads
from test_nodes import nodes

from rokkafs.store.opening import open_blobs

MIB = 1024 * 1024


def admin_key(tmp_path: Path, count: int) -> str:
    files = [tmp_path / f"node{i}" / "admin-api-key" for i in range(count)]
    return next(f.read_text().strip() for f in files if f.exists())


def test_nodes_share_one_bucket(postgres: PostgresCluster, s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.new_url()
    options = ("--index", postgres.new_database(), "--blobs", bucket)
    cli = [sys.executable, "-m", "rokkafs.cli", "--data", str(tmp_path / "node0"), *options]
    assert subprocess.run([*cli, "org", "create", "demo"], capture_output=True).returncode == 0
    for node in ("node0", "node1"):  # (more than rokka's 150 MB per upload)
        (tmp_path / node).mkdir(exist_ok=True)
        (tmp_path / node / "rokkafs.toml").write_text("[store]\nmax_upload_bytes = 300000000\n")
    processes: list[subprocess.Popen[str]] = []
    with nodes(2, options, tmp_path, processes) as (one, two):
        auth = ("me", admin_key(tmp_path, 2))
        # the same bytes through both nodes at once: two images, one object
        same = images.png(color=77)
        start = threading.Barrier(2)
        answers: list[int] = []

        def put(url: str, name: str) -> None:
            start.wait()
            answers.append(httpx.put(f"{url}/dav/demo/{name}", content=same, auth=auth).status_code)

        in_threads(put, [(one, "a.png"), (two, "b.png")])
        assert answers == [201, 201]
        stored = [b.blob_id for b in open_blobs(bucket, tmp_path / "look").iter_blobs()]
        assert stored == [hashlib.sha1(same).hexdigest()]
        # a big image through one node, read back through the other in ranges
        big = tmp_path / "big.png"
        images.write_big_png(big, 200)
        with big.open("rb") as data:
            put_big = httpx.put(f"{one}/dav/demo/big.png", content=data, auth=auth, timeout=300)
        assert put_big.status_code == 201
        size = big.stat().st_size
        with big.open("rb") as data:
            for start_at in (0, size // 2, size - 1000):
                data.seek(start_at)
                expected = data.read(1000)
                ranged = httpx.get(
                    f"{two}/dav/demo/big.png",
                    auth=auth,
                    headers={"Range": f"bytes={start_at}-{start_at + 999}"},
                )
                assert ranged.status_code == 206 and ranged.content == expected
        digest = hashlib.sha1()
        with httpx.stream("GET", f"{two}/dav/demo/big.png", auth=auth, timeout=300) as whole:
            for chunk in whole.iter_bytes():
                digest.update(chunk)
        assert digest.hexdigest() == hashlib.sha1(big.read_bytes()).hexdigest()
        for process in processes:  # (streamed both ways: far below the image's size)
            assert psutil.Process(process.pid).memory_info().rss < 200 * MIB
    check = subprocess.run([*cli, "check", "--deep"], capture_output=True, text=True)
    assert check.returncode == 0 and "problem" not in check.stdout, check.stdout


def test_a_node_with_a_read_cache_keeps_what_it_stores_and_serves_it_without_the_bucket(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    with s3_server() as s3:  # (its own server: this one is stopped)
        options = ("--index", postgres.new_database(), "--blobs", s3.new_url())
        cli = [sys.executable, "-m", "rokkafs.cli", "--data", str(tmp_path / "node0"), *options]
        env = {**os.environ, **s3.environment}
        made = subprocess.run([*cli, "org", "create", "demo"], capture_output=True, env=env)
        assert made.returncode == 0
        with nodes(1, options, tmp_path, environment=s3.environment,
                   serve_options=("--read-cache-mib", "64")) as (url,):  # fmt: skip
            auth = ("me", admin_key(tmp_path, 1))
            data = images.png(color=5)
            assert httpx.put(f"{url}/dav/demo/kept.png", content=data, auth=auth).status_code == 201
            kept = tmp_path / "node0" / "read-cache" / "blobs" / hashlib.sha1(data).hexdigest()
            deadline = time.monotonic() + 10  # (named once a worker thread flushed it)
            while not kept.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert kept.read_bytes() == data
            s3.stop()
            answer = httpx.get(f"{url}/dav/demo/kept.png", auth=auth, timeout=60)
            assert answer.status_code == 200 and answer.content == data


def test_the_object_store_going_away_is_a_clear_503_and_rokkafs_recovers(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    with s3_server() as s3:  # (its own server: this one is stopped)
        options = ("--index", postgres.new_database(), "--blobs", s3.new_url())
        environment = s3.environment
        cli = [sys.executable, "-m", "rokkafs.cli", "--data", str(tmp_path / "node0"), *options]
        made = subprocess.run(
            [*cli, "org", "create", "demo"], capture_output=True, env={**os.environ, **environment}
        )
        assert made.returncode == 0, made.stderr
        with nodes(1, options, tmp_path, environment=environment) as (url,):
            auth = ("me", admin_key(tmp_path, 1))
            first = images.png(color=5)
            assert httpx.put(f"{url}/dav/demo/a.png", content=first, auth=auth).status_code == 201
            s3.stop()
            put = httpx.put(f"{url}/dav/demo/b.png", content=images.png(6), auth=auth, timeout=60)
            assert put.status_code == 503
            got = httpx.get(f"{url}/dav/demo/a.png", auth=auth, timeout=60)
            assert got.status_code == 503
            listing = httpx.get(f"{url}/sourceimages/demo", headers={"Api-Key": auth[1]})
            assert [i["name"] for i in listing.json()["items"]] == ["a.png"]  # (b: nothing)
            s3.start()
            deadline = time.monotonic() + 30
            while (again := httpx.get(f"{url}/dav/demo/a.png", auth=auth)).status_code != 200:
                assert time.monotonic() < deadline, again.text
                time.sleep(0.5)
            assert again.content == first
            retry = httpx.put(f"{url}/dav/demo/b.png", content=images.png(6), auth=auth)
            assert retry.status_code == 201


def test_an_embedded_store_moves_into_postgresql_and_a_bucket(
    postgres: PostgresCluster, s3: S3Server, tmp_path: Path
) -> None:
    """``migrate-index`` then ``migrate-blobs``: a one-machine store becomes a scaled one;
    ``migrate-blobs`` resumes where it stopped and ``--verify`` finds damaged objects."""
    import io

    import obstore

    from rokkafs.provider.facestate import FaceState
    from rokkafs.store.index.postgres import PostgresIndex
    from rokkafs.store.local import LocalStore

    data = tmp_path / "data"
    store = LocalStore(data)
    store.create_organization("demo")
    pictures = {f"p{n}.png": images.png(color=n) for n in range(5)}
    for name, picture in pictures.items():
        store.create_source_image("demo", io.BytesIO(picture), name=name)
    store.close()
    faces = FaceState(data)
    faces.put_file("demo", ".DS_Store", staged_blob(faces.blobs, b"bud1"), 1.0)
    faces.close()
    url, bucket = postgres.new_database(), s3.new_url()
    cli = [sys.executable, "-m", "rokkafs.cli", "--data", str(data)]
    assert subprocess.run([*cli, "migrate-index", url], capture_output=True).returncode == 0
    moved = subprocess.run([*cli, "migrate-blobs", bucket], capture_output=True, text=True)
    assert moved.returncode == 0, moved.stderr
    assert "image blobs: sent 5" in moved.stdout and "side files' blobs: sent 1" in moved.stdout
    assert moved.stdout.strip().endswith("verified")
    # stopped half-way (here: one object lost): a second run sends only what is missing
    target = open_blobs(bucket, tmp_path / "look")
    first = next(target.iter_blobs()).blob_id
    target.delete(first)
    again = subprocess.run([*cli, "migrate-blobs", bucket], capture_output=True, text=True)
    assert "image blobs: sent 1 " in again.stdout and "4 were there" in again.stdout
    # the store runs on the database and the bucket, without the data directory's files
    scaled = LocalStore(tmp_path / "node", index=PostgresIndex(url), blobs=target)
    for image in scaled.list_source_images("demo").items:
        with scaled.open_source_image("demo", image.hash) as stored:
            assert stored.read() == pictures[image.name]
    assert scaled.check(deep=True).ok
    scaled.close()
    side = FaceState(
        tmp_path / "node", database_url=url, blobs=open_blobs(bucket, tmp_path, side=True)
    )
    found = side.get_file("demo", ".DS_Store")
    assert found is not None
    with side.open_file(found) as stored:
        assert stored.read() == b"bud1"
    side.close()
    # an object damaged in the bucket: --verify says so (exit 3)
    from obstore.store import S3Store

    raw = S3Store(
        "rokkafs-test",
        prefix=bucket.split("/", 3)[3].split("?")[0] + "/blobs",
        config={"endpoint": s3.endpoint, "region": "us-east-1"},
        client_options={"allow_http": True},
    )
    obstore.put(raw, f"{first[:2]}/{first[2:4]}/{first}", b"damaged")
    checked = subprocess.run(
        [*cli, "migrate-blobs", "--verify", bucket], capture_output=True, text=True
    )
    assert checked.returncode == 3 and f"problem: blob {first} has 7 bytes" in checked.stdout
