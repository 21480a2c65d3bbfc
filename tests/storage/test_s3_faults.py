"""Faults at the object store's edge, injected by a proxy between rokkafs and SeaweedFS:
passing 503s are retried; a store that keeps failing is a clear 503 (BackendUnavailable)
and an upload that fails leaves no record and no staging file."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from pathlib import Path

import images
import pytest
from blobsupport import staged_blob
from s3proxy import FaultyProxy, faulty_proxy
from s3server import ACCESS_KEY, BUCKET, LIMITED_KEYS, S3Server

from rokkafs.errors import BackendUnavailable, InvalidInput
from rokkafs.rokka.search import SearchQuery
from rokkafs.store.blobs.cached import CachedBlobStorage
from rokkafs.store.blobs.s3 import SINGLE_PUT_BYTES, S3BlobStorage
from rokkafs.store.blobs.s3_errors import refusal
from rokkafs.store.local import LocalStore


@pytest.fixture
def proxied(s3: S3Server, tmp_path: Path) -> Iterator[tuple[FaultyProxy, LocalStore]]:
    with faulty_proxy(s3.endpoint) as (proxy, endpoint):
        url = s3.new_url().replace(s3.endpoint, endpoint)
        store = LocalStore(tmp_path / "data", blobs=S3BlobStorage(url, tmp_path / "staging"))
        store.create_organization("acme")
        yield proxy, store
        store.close()


def upload(store: LocalStore, color: int) -> str:
    data = io.BytesIO(images.png(color=color))
    return store.create_source_image("acme", data, name=f"{color}.png").hash


def staging_files(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "staging").iterdir())


def test_passing_failures_are_retried(
    proxied: tuple[FaultyProxy, LocalStore], tmp_path: Path
) -> None:
    proxy, store = proxied
    turns = {"PUT": itertools.count(), "GET": itertools.count()}  # (every other one fails)
    proxy.fail = lambda method, path, count: method in turns and next(turns[method]) % 2 == 1
    hashes = [upload(store, color) for color in range(8)]
    for color, image_hash in enumerate(hashes):
        with store.open_source_image("acme", image_hash) as data:
            assert data.read() == images.png(color=color)
    assert any(method == "PUT" for method, _ in proxy.failed)
    assert any(method == "GET" for method, _ in proxy.failed)
    assert store.check(deep=True).ok


def test_a_failing_store_is_a_clear_503_and_an_upload_leaves_nothing(
    proxied: tuple[FaultyProxy, LocalStore], tmp_path: Path
) -> None:
    proxy, store = proxied
    kept = upload(store, 1)
    proxy.fail = lambda method, path, count: True
    with pytest.raises(BackendUnavailable, match="object store is unavailable"):
        upload(store, 2)
    with pytest.raises(BackendUnavailable), store.open_source_image("acme", kept) as data:
        data.read()
    proxy.fail = lambda method, path, count: False
    names = [i.name for i in store.list_source_images("acme", SearchQuery()).items]
    assert names == ["1.png"]  # (no record of the failed upload)
    assert staging_files(tmp_path) == []
    upload(store, 2)  # (and it recovers by itself)
    assert store.check(deep=True).ok


def test_a_big_upload_that_fails_half_way_leaves_no_object(
    proxied: tuple[FaultyProxy, LocalStore], tmp_path: Path
) -> None:
    proxy, store = proxied
    big = tmp_path / "big.png"
    images.write_big_png(big, SINGLE_PUT_BYTES // (1024 * 1024) + 8)
    proxy.fail = lambda method, path, count: method == "PUT" and "partNumber=2" in path
    with pytest.raises(BackendUnavailable), big.open("rb") as data:
        store.create_source_image("acme", data, name="big.png")
    assert any("partNumber=2" in path for _, path in proxy.failed)
    proxy.fail = lambda method, path, count: False
    assert store.list_source_images("acme", SearchQuery()).items == ()
    assert [n for n in store.check().notes if "orphan" in n] == []  # (the upload was aborted)
    with big.open("rb") as data:
        image = store.create_source_image("acme", data, name="big.png")
    assert store.check(deep=True).ok and image.size == big.stat().st_size


def test_a_mounts_read_cache_serves_what_it_read_once(s3: S3Server, tmp_path: Path) -> None:
    with faulty_proxy(s3.endpoint) as (proxy, endpoint):
        url = s3.new_url().replace(s3.endpoint, endpoint)
        bucket = S3BlobStorage(url, tmp_path / "staging")
        cached = CachedBlobStorage(
            bucket, tmp_path / "read-cache", 3 * 1024 * 1024, max_blob_bytes=2_000_000
        )
        first, second = (staged_blob(bucket, bytes([n]) * 2_000_000) for n in (1, 2))
        for blob in (first, second):
            bucket.publish(blob.path, blob.blob_id)  # (by another node: not in this cache)
        with cached.open(first.blob_id) as data:
            assert data.read() == bytes([1]) * 2_000_000
        proxy.fail = lambda method, path, count: method == "GET"  # (the bucket stops reading)
        with cached.open(first.blob_id) as data:  # (from the local copy)
            assert data.read(10) == bytes([1]) * 10
        with pytest.raises(BackendUnavailable):
            cached.open(second.blob_id).read()
        proxy.fail = lambda method, path, count: False
        with cached.open(second.blob_id) as data:  # (the cache is bounded: the first goes)
            assert data.read(10) == bytes([2]) * 10
        assert [p.name for p in (tmp_path / "read-cache").rglob("*") if p.is_file()] == [
            second.blob_id
        ]


def test_what_a_node_with_a_read_cache_uploads_is_read_back_without_the_bucket(
    s3: S3Server, tmp_path: Path
) -> None:
    with faulty_proxy(s3.endpoint) as (proxy, endpoint):
        url = s3.new_url().replace(s3.endpoint, endpoint)
        bucket = S3BlobStorage(url, tmp_path / "staging")
        cached = CachedBlobStorage(
            bucket, tmp_path / "read-cache", 5 * 1024 * 1024, max_blob_bytes=2_000_000
        )
        blobs = [staged_blob(bucket, bytes([n]) * 2_000_000) for n in (1, 2, 3)]
        for blob in blobs:
            assert cached.publish(blob.path, blob.blob_id)
            blob.path.unlink()  # (the uploader removes its staging file)
            cached.wait_kept()  # (kept in the order they came)
        proxy.fail = lambda method, path, count: method == "GET"  # (the bucket stops reading)
        for blob, n in zip(blobs[1:], (2, 3), strict=True):  # (the newest that fit: kept)
            with cached.open(blob.blob_id) as data:
                assert data.read() == bytes([n]) * 2_000_000
        with pytest.raises(BackendUnavailable):  # (the oldest went when the third came)
            cached.open(blobs[0].blob_id).read()
        proxy.fail = lambda method, path, count: False
        with bucket.open(blobs[0].blob_id) as data:  # (in the bucket all along)
            assert data.read(10) == bytes([1]) * 10
        kept = sorted(p.name for p in (tmp_path / "read-cache").rglob("*") if p.is_file())
        assert kept == sorted(b.blob_id for b in blobs[1:])


def test_a_blob_too_big_for_the_read_cache_streams_from_the_bucket(
    s3: S3Server, tmp_path: Path
) -> None:
    bucket = S3BlobStorage(s3.new_url(), tmp_path / "staging")
    cached = CachedBlobStorage(bucket, tmp_path / "read-cache", 8 * 1024 * 1024)  # (1 MiB each)
    big = staged_blob(bucket, bytes(range(256)) * 8192)  # 2 MiB
    assert cached.publish(big.path, big.blob_id)
    cached.wait_kept()
    with cached.open(big.blob_id) as data:
        data.seek(2 * 1024 * 1024 - 4)
        assert data.read() == bytes([252, 253, 254, 255])
    assert not [p for p in (tmp_path / "read-cache").rglob("*") if p.is_file()]


def test_a_missing_bucket_is_a_clear_error(s3: S3Server, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"bucket 'no-such-bucket'.* does not exist"):
        S3BlobStorage(f"s3://no-such-bucket/x?endpoint={s3.endpoint}", tmp_path / "staging")
    with pytest.raises(InvalidInput, match="unknown --blobs options: colour"):
        S3BlobStorage(f"s3://{BUCKET}/x?colour=blue", tmp_path / "staging")


@pytest.mark.parametrize(
    ("key", "secret", "said"),
    [
        (ACCESS_KEY, "not-the-secret", r"refused the S3 key \(SignatureDoesNotMatch\): check AWS_"),
        ("no-such-key", "x", r"refused the S3 key \(InvalidAccessKeyId\): check AWS_"),
        (*LIMITED_KEYS["no-list"][:2], r"denied the S3 key access \(AccessDenied\): it needs s3:L"),
    ],
)
def test_a_key_the_bucket_refuses_is_said_at_start(
    s3: S3Server, tmp_path: Path, key: str, secret: str, said: str
) -> None:
    """Not "unavailable, try again later": waiting never helps a wrong key or a missing
    permission, and the sentence names what to check."""
    with pytest.raises(InvalidInput, match=said):
        S3BlobStorage(
            s3.new_url(), tmp_path / "staging", access_key_id=key, secret_access_key=secret
        )


def test_a_permission_missing_while_serving_is_said_and_stores_nothing(
    s3: S3Server, tmp_path: Path
) -> None:
    key, secret, _ = LIMITED_KEYS["read-only"]
    url = s3.new_url()
    bucket = S3BlobStorage(url, tmp_path / "staging", access_key_id=key, secret_access_key=secret)
    blob = staged_blob(bucket, b"bytes of a key that may only read")
    with pytest.raises(BackendUnavailable, match=r"denied the S3 key access \(AccessDenied\)"):
        bucket.publish(blob.path, blob.blob_id)
    assert not S3BlobStorage(url, tmp_path / "other").exists(blob.blob_id)


@pytest.mark.parametrize(
    ("code", "said"),
    [
        ("AuthorizationHeaderMalformed", "another region"),
        ("ExpiredToken", "refused the S3 key"),
        ("AccessDenied", "denied the S3 key access"),
        ("SlowDown", None),
        ("InternalError", None),
    ],
)
def test_which_answers_are_refusals(code: str, said: str | None) -> None:
    answer = f"403 Forbidden: <?xml version='1.0'?><Error><Code>{code}</Code></Error>"
    found = refusal(answer)
    assert (found is None) if said is None else (found is not None and said in found)


def test_a_refusal_without_a_code_is_said_as_a_refusal(s3: S3Server, tmp_path: Path) -> None:
    """A HEAD's 403 has no body to name the reason: the key or its rights, not a guess."""
    key, secret, _ = LIMITED_KEYS["list-only"]
    bucket = S3BlobStorage(
        s3.new_url(), tmp_path / "staging", access_key_id=key, secret_access_key=secret
    )
    with pytest.raises(BackendUnavailable, match=r"refused the S3 key or its rights \(HTTP 403\)"):
        bucket.exists("ab" * 20)
