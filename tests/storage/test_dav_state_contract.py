"""The WebDAV state contract (dead properties and locks) on every engine: what one opening
(a node) writes, another reads at once; values round-trip exactly."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest

from rokkafs.webdav.davstate import DavState

StateFactory = Callable[[], DavState]


@pytest.fixture
def make_state(engine_url: str | None, tmp_path: Path, closing: ExitStack) -> StateFactory:
    def factory() -> DavState:
        state = DavState(tmp_path / "data", database_url=engine_url)
        closing.callback(state.close)
        return state

    return factory


def test_properties_are_shared_and_round_trip(make_state: StateFactory) -> None:
    one, other = make_state(), make_state()
    value = {"{urn:x}colour": "<c>blue</c>", "{urn:x}bytes": b"\x00\xff", "{urn:x}n": 3}
    one.table("properties")["/acme/a.png"] = value
    assert other.table("properties")["/acme/a.png"] == value
    assert "/acme/a.png" in other.table("properties") and len(other.table("properties")) == 1
    del other.table("properties")["/acme/a.png"]
    with pytest.raises(KeyError):
        one.table("properties")["/acme/a.png"]


def test_a_lock_taken_through_one_opening_is_seen_by_another_at_once(
    make_state: StateFactory,
) -> None:
    one, other = make_state(), make_state()
    manager = one.lock_manager()
    lock = manager.acquire(
        url="/acme/a.png", lock_type="write", lock_scope="exclusive", lock_depth="0",
        lock_owner=b"<owner>ann</owner>", timeout=60, principal="ann", token_list=[],
    )  # fmt: skip
    seen = other.lock_manager().get_url_lock_list("/acme/a.png")
    assert [found["token"] for found in seen] == [lock["token"]]
    from wsgidav.dav_error import DAVError

    with pytest.raises(DAVError):  # (a second exclusive lock on another node: refused)
        other.lock_manager().acquire(
            url="/acme/a.png", lock_type="write", lock_scope="exclusive", lock_depth="0",
            lock_owner=b"<owner>bob</owner>", timeout=60, principal="bob", token_list=[],
        )  # fmt: skip
    one.lock_manager().release(lock["token"])
    assert other.lock_manager().get_url_lock_list("/acme/a.png") == []


def test_locks_are_read_once_per_request_and_afresh_before_granting(
    make_state: StateFactory,
) -> None:
    """Within one request the lock table is asked whether it changed once (a PUT looked five
    times); a request that starts after another node's lock sees it, and taking a lock looks
    again whatever the request saw."""
    from wsgidav.dav_error import DAVError

    from rokkafs.webdav import davstate

    one, other = make_state(), make_state()
    asked = []
    table = other.table("locks")
    version = table._version_of  # (counted, not replaced)
    real_current = version.current
    version.current = lambda: asked.append(1) or real_current()  # type: ignore[method-assign]
    davstate.request_started()
    for _ in range(5):
        assert other.lock_manager().get_url_lock_list("/acme/a.png") == []
    assert len(asked) == 1
    lock = one.lock_manager().acquire(
        url="/acme/a.png", lock_type="write", lock_scope="exclusive", lock_depth="0",
        lock_owner=b"<owner>ann</owner>", timeout=60, principal="ann", token_list=[],
    )  # fmt: skip
    with pytest.raises(DAVError):  # (same request: the grant still looks afresh)
        other.lock_manager().acquire(
            url="/acme/a.png", lock_type="write", lock_scope="exclusive", lock_depth="0",
            lock_owner=b"<owner>bob</owner>", timeout=60, principal="bob", token_list=[],
        )  # fmt: skip
    davstate.request_started()
    seen = other.lock_manager().get_url_lock_list("/acme/a.png")
    assert [found["token"] for found in seen] == [lock["token"]]
