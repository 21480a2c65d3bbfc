"""Blob storage in an S3-compatible bucket (``--blobs s3://BUCKET/PREFIX?endpoint=…``).

Objects are content-addressed (``PREFIX/blobs/ab/cd/<sha1>``; side files' bytes under
``PREFIX/side/``) and never overwritten: a blob up to 16 MiB is created with a conditional PUT
(``If-None-Match: *``; "already exists" means the bytes are there), a bigger one in a
multipart upload (parts of 8 MiB, four at a time, aborted on failure) after a HEAD found it
missing (a twin racing it writes the same bytes). Reads are ranged GETs of 4 MiB windows (the
first one at open, no HEAD: a read of a small image is one request), so memory stays flat
with the size of an image. Staging files are on the
node's own disk. The client is obstore (Rust's ``object_store``), chosen by measurement:
about twice boto3's rate on loopback (``docs/architecture.md#blobs``).

Requests are retried with backoff (three times, within ten seconds) where that is safe;
then :class:`~rokkafs.errors.BackendUnavailable` (503 / ``EIO``). Credentials come from
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` or the settings and are never logged.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import parse_qs, urlsplit

from rokkafs.errors import BackendUnavailable, InvalidInput
from rokkafs.store.blobs import BlobInfo, BlobStorage, UnfinishedUpload, blob_key
from rokkafs.store.blobs.s3_errors import bucket_problem, unavailable_as_503
from rokkafs.store.blobs.s3_uploads import MultipartUploads

if TYPE_CHECKING:
    from obstore.store import S3Config

__all__ = ["S3BlobStorage"]

SINGLE_PUT_BYTES = 16 * 1024 * 1024
PART_BYTES = 8 * 1024 * 1024
PARTS_AT_ONCE = 4
READ_BUFFER_BYTES = 4 * 1024 * 1024


class _Reader(io.RawIOBase):
    """A blob read in windows of ``READ_BUFFER_BYTES``, each one ranged GET: the first is
    fetched when the blob is opened (its answer tells the size, and most images fit in it,
    so a whole read is one request), the others when a read or a seek gets there."""

    def __init__(self, store: Any, key: str) -> None:
        import obstore

        self._store, self._key = store, key
        self._window: Any = b""
        with unavailable_as_503("open a blob"):
            try:
                first = obstore.get(store, key, options={"range": (0, READ_BUFFER_BYTES)})
            except FileNotFoundError:
                raise
            except Exception:  # (an empty object has no byte to start a range at)
                if obstore.head(store, key)["size"] != 0:
                    raise
                self._size = 0
            else:
                self._size = int(first.meta["size"])
                self._window = first.bytes()
        self._start = 0  # (where the window begins)
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        import obstore

        if self._position >= self._size:
            return 0
        if not self._start <= self._position < self._start + len(self._window):
            end = min(self._position + READ_BUFFER_BYTES, self._size)
            with unavailable_as_503("read a blob"):
                self._window = obstore.get_range(
                    self._store, self._key, start=self._position, end=end
                )
            self._start = self._position
        offset = self._position - self._start
        count = min(len(buffer), len(self._window) - offset)
        buffer[:count] = memoryview(self._window)[offset : offset + count]
        self._position += count
        return count

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        bases = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._size}
        if whence not in bases:
            raise ValueError(f"invalid whence {whence}")
        base = bases[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def tell(self) -> int:
        return self._position


class S3BlobStorage(BlobStorage):
    """Blobs as objects of one bucket, below a prefix; safe for any number of nodes."""

    syncs_staging = False  # (a PUT's answer is the bucket's promise that the bytes are kept)

    def __init__(
        self,
        url: str,
        staging: Path,
        *,
        area: str = "blobs",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        from obstore.store import S3Store

        super().__init__(staging)
        parts = urlsplit(url)
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.scheme != "s3" or not parts.netloc:
            raise InvalidInput(f"--blobs takes s3://BUCKET/PREFIX, not {url!r}")
        unknown = set(options) - {"endpoint", "region"}
        if unknown:
            raise InvalidInput(f"unknown --blobs options: {', '.join(sorted(unknown))}")
        self.bucket = parts.netloc
        self.endpoint = options.get("endpoint")
        prefix = "/".join(p for p in (parts.path.strip("/"), area) if p)
        region = options.get("region") or os.environ.get("AWS_REGION") or "us-east-1"
        config: S3Config = {"region": region}
        self._uploads = MultipartUploads(
            self.bucket,
            prefix,
            endpoint=self.endpoint,
            region=region,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
        )
        if self.endpoint:
            config["endpoint"] = self.endpoint
        if access_key_id and secret_access_key:
            config["access_key_id"] = access_key_id
            config["secret_access_key"] = secret_access_key
        self._store = S3Store(
            self.bucket,
            prefix=prefix,
            config=config,
            client_options={
                "allow_http": bool(self.endpoint and self.endpoint.startswith("http:")),
                "connect_timeout": timedelta(seconds=5),
                "timeout": timedelta(seconds=120),
            },
            retry_config={
                "max_retries": 3,
                "retry_timeout": timedelta(seconds=10),
                "backoff": {
                    "init_backoff": timedelta(milliseconds=100),
                    "max_backoff": timedelta(seconds=2),
                    "base": 2,
                },
            },
        )
        self._require_bucket()

    def _require_bucket(self) -> None:
        import obstore

        try:
            with unavailable_as_503("list the bucket"):
                next(iter(obstore.list(self._store, prefix="", chunk_size=1)), None)
        except (FileNotFoundError, BackendUnavailable) as exc:  # (FileNotFoundError: a 404)
            cause = exc if isinstance(exc, FileNotFoundError) else exc.__cause__ or exc
            problem = bucket_problem(cause, self.bucket, self.endpoint)
            if problem is not None:
                raise InvalidInput(problem) from None
            raise

    def publish(self, staged: Path, blob_id: str) -> bool:
        import obstore
        from obstore.exceptions import AlreadyExistsError

        key = blob_key(blob_id)
        size = staged.stat().st_size
        with unavailable_as_503("store a blob"), staged.open("rb") as data:
            if size <= SINGLE_PUT_BYTES:
                try:
                    obstore.put(self._store, key, data, mode="create", use_multipart=False)
                except AlreadyExistsError:
                    return False
                return True
            if self.exists(blob_id):
                return False
            obstore.put(
                self._store,
                key,
                data,
                use_multipart=True,
                chunk_size=PART_BYTES,
                max_concurrency=PARTS_AT_ONCE,
            )
            return True

    def exists(self, blob_id: str) -> bool:
        import obstore

        try:
            with unavailable_as_503("look up a blob"):
                obstore.head(self._store, blob_key(blob_id))
        except FileNotFoundError:
            return False
        return True

    def open(self, blob_id: str) -> BinaryIO:
        return io.BufferedReader(_Reader(self._store, blob_key(blob_id)), buffer_size=256 * 1024)

    def stage_copy(self, blob_id: str) -> Path:
        target = self.staging.new_name()
        try:
            with self.open(blob_id) as data, target.open("wb") as copy:
                shutil.copyfileobj(data, copy, 1024 * 1024)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return target

    def delete(self, blob_id: str) -> None:
        import obstore

        try:
            with unavailable_as_503("delete a blob"):
                obstore.delete(self._store, blob_key(blob_id))
        except FileNotFoundError:
            pass

    def unfinished_uploads(self) -> Iterator[UnfinishedUpload]:
        return self._uploads.unfinished()

    def abort_upload(self, upload: UnfinishedUpload) -> None:
        self._uploads.abort(upload)

    def iter_blobs(self) -> Iterator[BlobInfo]:
        import obstore

        with unavailable_as_503("list the blobs"):
            for batch in obstore.list(self._store, prefix="", chunk_size=1000):
                for meta in batch:
                    blob_id = meta["path"].rsplit("/", 1)[-1]
                    yield BlobInfo(blob_id, int(meta["size"]), meta["last_modified"].timestamp())
