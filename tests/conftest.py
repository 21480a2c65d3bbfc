"""Shared fixtures: the store fixture is parametrized over every Store implementation."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from postgres import PostgresCluster, postgres_cluster
from s3server import S3Server, s3_server
from support import Clock, StoreFactory

from rokkafs.provider.facestate import FaceState
from rokkafs.server import make_server, running_server
from rokkafs.store.base import Store
from rokkafs.store.config import StoreConfig
from rokkafs.store.index.postgres import PostgresIndex
from rokkafs.store.local import LocalStore
from rokkafs.store.opening import open_blobs
from rokkafs.store.remote import RemoteStore


@pytest.fixture
def clock() -> Clock:
    return Clock()


API_KEY = "test-key-" + "x" * 55


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A private PostgreSQL cluster for the whole session (see ``tests/postgres.py``)."""
    with postgres_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """A private S3 server (SeaweedFS) for the whole session (see ``tests/s3server.py``);
    its credentials are in the environment, as rokkafs reads them."""
    with s3_server() as server, pytest.MonkeyPatch.context() as environment:
        for name, value in server.environment.items():
            environment.setenv(name, value)
        yield server


@pytest.fixture(params=["local", "postgres", "postgres-s3", "remote"])
def make_store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Clock
) -> Iterator[StoreFactory]:
    """Build a fresh store of each implementation (with an optional config).

    ``postgres`` is LocalStore on a PostgreSQL index (a fresh database of the session's
    cluster), ``postgres-s3`` with its bytes in an S3 bucket too; ``remote`` is a RemoteStore
    talking over a real socket to ``rokkafs``'s REST API on a cheroot server on a free port,
    in front of a LocalStore with the same config and clock.
    """
    with ExitStack() as stack:

        def factory(config: StoreConfig | None = None) -> Store:
            index, blobs = None, None
            folder = tmp_path / f"data{len(stack._exit_callbacks)}"
            if request.param.startswith("postgres"):
                cluster = request.getfixturevalue("postgres")
                index = PostgresIndex(cluster.new_database(), max_connections=4)
            if request.param.endswith("-s3"):
                blobs = open_blobs(request.getfixturevalue("s3").new_url(), folder)
            local = LocalStore(folder, config, clock=clock, index=index, blobs=blobs)
            stack.callback(local.close)
            if request.param != "remote":
                return local
            server = make_server(local, lambda: [API_KEY], port=0, threads=8)
            url = stack.enter_context(running_server(server))
            remote = RemoteStore(url, API_KEY, config=config, cache_seconds=0.0)
            stack.callback(remote.close)
            return remote

        yield factory


@pytest.fixture
def store(make_store: StoreFactory) -> Store:
    """A store with the organizations ``acme`` and ``other``."""
    instance = make_store()
    instance.create_organization("acme")
    instance.create_organization("other")
    return instance


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI (``CI`` set, as ``.ci/run`` runs there) a skipped test fails the run: a machine
    without ``/dev/fuse``, root or a client tool must not finish green. Locally skips stay
    allowed and are listed in the summary."""
    import os

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter is not None else 0
    if os.environ.get("CI") and skipped and exitstatus == 0:
        reporter.write_line(f"{skipped} tests were skipped: in CI nothing may skip", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def make_faces(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], FaceState]:
    """Face state for the store of ``make_store``: in PostgreSQL next to a PostgreSQL index,
    its bytes in a bucket next to a bucket."""

    def factory() -> FaceState:
        callspec = getattr(request.node, "callspec", None)
        kind = callspec.params.get("make_store", "") if callspec else ""
        url = request.getfixturevalue("postgres").new_database() if "postgres" in kind else None
        bucket = request.getfixturevalue("s3").new_url() if kind.endswith("-s3") else None
        blobs = open_blobs(bucket, tmp_path / "faces", side=True)
        return FaceState(tmp_path / "faces", database_url=url, blobs=blobs)

    return factory
