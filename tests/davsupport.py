"""The WebDAV test server's handle (imported by the WebDAV tests and their conftest)."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import defusedxml.ElementTree as SafeET
import httpx
import images
from postgres import PostgresCluster

from rokkafs.server import make_server, running_server
from rokkafs.store.config import StoreConfig
from rokkafs.store.index.postgres import PostgresIndex
from rokkafs.store.local import LocalStore
from rokkafs.store.opening import open_blobs

KEY = "d" * 64


@dataclass
class DavServer:
    url: str
    dav: str
    key: str
    store: LocalStore
    data: Path
    http_server: str = "cheroot"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.dav, auth=("someone@example.org", self.key), timeout=60)


def responses(body: str) -> dict[str, dict[str, str]]:
    """A 207 Multi-Status body as {href: {property in Clark notation: text}} (the properties
    found with status 200), whatever namespace prefixes the server chose."""
    found: dict[str, dict[str, str]] = {}
    for response in SafeET.fromstring(body).iter("{DAV:}response"):
        href = response.findtext("{DAV:}href", "")
        properties = found.setdefault(href, {})
        for propstat in response.iter("{DAV:}propstat"):
            if " 200 " not in propstat.findtext("{DAV:}status", ""):
                continue
            for prop in propstat.iter("{DAV:}prop"):
                for element in prop:
                    properties[element.tag] = "".join(element.itertext())
    return found


def property_statuses(body: str) -> dict[str, int]:
    """A 207 answer to PROPPATCH as {property in Clark notation: its HTTP status}."""
    statuses: dict[str, int] = {}
    for propstat in SafeET.fromstring(body).iter("{DAV:}propstat"):
        status = int(propstat.findtext("{DAV:}status", "").split()[1])
        for prop in propstat.iter("{DAV:}prop"):
            for element in prop:
                statuses[element.tag] = status
    return statuses


def cadaver(url: str, key: str, script: str, home: Path) -> subprocess.CompletedProcess[str]:
    """Run cadaver at ``url`` with ``script`` on its standard input, logging in with ``key``
    from a ``.netrc`` in ``home`` (a fresh folder)."""
    program = shutil.which("cadaver")
    assert program, "cadaver is required (Debian package cadaver; .ci/run installs it)"
    home.mkdir(exist_ok=True)
    netrc = home / ".netrc"
    netrc.write_text(f"machine {urlsplit(url).hostname}\nlogin someone\npassword {key}\n")
    netrc.chmod(0o600)
    return subprocess.run(
        [program, url],
        input=script + "\n",
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def put_at_once(servers: list[tuple[str, str]], path: str, colors: range) -> list[int]:
    """PUT one image per colour to ``path`` (``org/name``), all at once, spread over the
    servers (WebDAV URL, API key)."""
    statuses: list[int] = []
    start = threading.Barrier(len(colors))

    def put(server: tuple[str, str], color: int) -> None:
        url, key = server
        with httpx.Client(base_url=url, auth=("me", key), timeout=60) as client:
            start.wait()
            try:
                answer = client.put(f"/{path}", content=images.png(color=color)).status_code
            except httpx.HTTPError:
                answer = 0  # (counted: every writer must answer)
            statuses.append(answer)

    threads = [
        threading.Thread(target=put, args=(servers[i % len(servers)], color))
        for i, color in enumerate(colors)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made with openssl."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is required (Debian package openssl; .ci/run installs it)"
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@contextmanager
def postgres_dav_server(
    postgres: PostgresCluster, tmp_path: Path, bucket: str | None = None
) -> Iterator[DavServer]:
    """A server whose state is all in a fresh PostgreSQL database (and with ``bucket``, an
    ``s3://`` URL, whose bytes are all in that bucket)."""
    url = postgres.new_database()
    data = tmp_path / "pg-data"
    config = StoreConfig(max_upload_bytes=5_000_000)
    blobs, side = open_blobs(bucket, data), open_blobs(bucket, data, side=True)
    store = LocalStore(data, config, index=PostgresIndex(url), blobs=blobs)
    store.create_organization("acme")
    store.create_organization("other")
    server = make_server(
        store,
        lambda: [KEY],
        port=0,
        threads=20,
        data_dir=data,
        database_url=url,
        side_blobs=side,
    )
    with running_server(server) as base:
        yield DavServer(base, f"{base}/dav", KEY, store, data)
    store.close()


@contextmanager
def granian_dav_server(
    tmp_path: Path, index: str | None = None, bucket: str | None = None
) -> Iterator[DavServer]:
    """``rokkafs serve --http-server granian --workers 2`` as a user starts it, on a data
    directory with the organizations of the other test servers (with ``index``, a
    PostgreSQL URL, and ``bucket``, an ``s3://`` URL, on those); the test process opens the
    same store (both processes share its files or databases, as workers do)."""
    from support import serving

    data = tmp_path / "granian-data"
    data.mkdir()
    (data / "rokkafs.toml").write_text("[store]\nmax_upload_bytes = 5000000\n")
    config = StoreConfig(max_upload_bytes=5_000_000)
    shared = PostgresIndex(index) if index is not None else None
    store = LocalStore(data, config, index=shared, blobs=open_blobs(bucket, data))
    store.create_organization("acme")
    store.create_organization("other")
    options = (*(("--index", index) if index else ()), *(("--blobs", bucket) if bucket else ()))
    command = ("--http-server", "granian", "--workers", "2")
    try:
        with serving(data, *command, before=options) as (url, key, _):
            yield DavServer(url, f"{url}/dav", key, store, data, "granian")
    finally:
        store.close()
