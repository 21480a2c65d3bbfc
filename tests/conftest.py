"""Shared fixtures: the store fixture is parametrized over every Store implementation."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support import Clock, StoreFactory

from rokkafs.store.base import Store, StoreConfig
from rokkafs.store.local import LocalStore


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["local"])
def make_store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Clock
) -> Iterator[StoreFactory]:
    """Build a fresh store of each implementation (with an optional config)."""
    opened: list[Store] = []

    def factory(config: StoreConfig | None = None) -> Store:
        if request.param == "local":
            store: Store = LocalStore(tmp_path / f"data{len(opened)}", config, clock=clock)
        else:  # pragma: no cover - more implementations join with later issues
            raise AssertionError(request.param)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: StoreFactory) -> Store:
    """A store with the organizations ``acme`` and ``other``."""
    instance = make_store()
    instance.create_organization("acme")
    instance.create_organization("other")
    return instance
