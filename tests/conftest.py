"""Shared fixtures: the store fixture is parametrized over every Store implementation."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from postgres import PostgresCluster, postgres_cluster
from support import Clock, StoreFactory

from rokkafs.facestate import FaceState
from rokkafs.server import make_server, running_server
from rokkafs.store.base import Store
from rokkafs.store.config import StoreConfig
from rokkafs.store.local import LocalStore
from rokkafs.store.postgres_index import PostgresIndex
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


@pytest.fixture(params=["local", "postgres", "remote"])
def make_store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Clock
) -> Iterator[StoreFactory]:
    """Build a fresh store of each implementation (with an optional config).

    ``postgres`` is LocalStore on a PostgreSQL index (a fresh database of the session's
    cluster); ``remote`` is a RemoteStore talking over a real socket to ``rokkafs``'s REST API
    on a cheroot server on a free port, in front of a LocalStore with the same config and clock.
    """
    with ExitStack() as stack:

        def factory(config: StoreConfig | None = None) -> Store:
            index = None
            if request.param == "postgres":
                cluster = request.getfixturevalue("postgres")
                index = PostgresIndex(cluster.new_database(), max_connections=4)
            folder = tmp_path / f"data{len(stack._exit_callbacks)}"
            local = LocalStore(folder, config, clock=clock, index=index)
            stack.callback(local.close)
            if request.param in ("local", "postgres"):
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
    """Face state for the store of ``make_store``: in PostgreSQL next to a PostgreSQL index."""

    def factory() -> FaceState:
        url = None
        if getattr(request.node, "callspec", None) and (
            request.node.callspec.params.get("make_store") == "postgres"
        ):
            url = request.getfixturevalue("postgres").new_database()
        return FaceState(tmp_path / "faces", database_url=url)

    return factory
