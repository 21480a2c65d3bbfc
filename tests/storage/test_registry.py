"""The user registry contract (users, keys, memberships) on every engine: SQLite in the data
directory and PostgreSQL shared by nodes; two openings stand for two nodes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest
from support import in_threads

from rokkafs.access.registry import MAX_KEYS_PER_USER, AccessRegistry
from rokkafs.errors import AlreadyExists, InvalidInput, NotFound

RegistryFactory = Callable[[], AccessRegistry]


@pytest.fixture
def make_registry(engine_url: str | None, tmp_path: Path, closing: ExitStack) -> RegistryFactory:
    def factory() -> AccessRegistry:
        registry = AccessRegistry(tmp_path / "data", database_url=engine_url)
        closing.callback(registry.close)
        return registry

    return factory


def test_users_and_keys_work_from_every_opening(make_registry: RegistryFactory) -> None:
    one, other = make_registry(), make_registry()
    user, key = one.create_user("ann@example.org")
    principal = other.authenticate(key)
    assert principal is not None and principal.user == user and not principal.user.superuser
    assert other.authenticate(key[:-1] + ("x" if key[-1] != "x" else "y")) is None
    assert other.authenticate("") is None
    info, second = other.create_key(user.id, "laptop")
    assert [k.id for k in one.list_keys(user.id)] == [key[:32], info.id]
    one.revoke_key(user.id, key[:32])
    assert other.authenticate(key) is None and other.authenticate(second) is not None
    with pytest.raises(NotFound):
        one.revoke_key(user.id, key[:32])
    for _ in range(MAX_KEYS_PER_USER - 1):
        one.create_key(user.id)
    with pytest.raises(AlreadyExists):
        other.create_key(user.id)
    with pytest.raises(InvalidInput):
        one.create_user("x" * 300)
    assert [u.email for u in other.users()] == ["ann@example.org"]


def test_memberships_keep_an_admin(make_registry: RegistryFactory) -> None:
    one, other = make_registry(), make_registry()
    ann, key = one.create_user("ann@example.org")
    bob, _ = one.create_user("bob@example.org")
    assert one.set_membership("acme", ann.id, ["admin"])[1] is True
    assert other.set_membership("acme", bob.id, ["read", "write"], "team")[1] is True
    principal = other.authenticate(key)
    assert principal is not None and principal.may("acme", "write") and principal.is_member("acme")
    with pytest.raises(AlreadyExists):  # (the last admin stays)
        other.set_membership("acme", ann.id, ["read"])
    with pytest.raises(AlreadyExists):
        one.remove_membership("acme", ann.id)
    with pytest.raises(InvalidInput):
        one.set_membership("acme", bob.id, ["emperor"])
    one.remove_membership("acme", bob.id)
    assert [m.user_id for m in other.memberships("acme")] == [ann.id]
    with pytest.raises(NotFound):
        other.membership("acme", bob.id)


def test_nodes_starting_together_make_one_administrator(make_registry: RegistryFactory) -> None:
    openings = [make_registry() for _ in range(6)]
    start = threading.Barrier(len(openings))
    made: list[object] = []

    def first(registry: AccessRegistry, n: int) -> None:
        start.wait()
        made.append(registry.create_first_admin(f"{n}" * 64))

    in_threads(first, [(r, n) for n, r in enumerate(openings)])
    assert len([m for m in made if m is not None]) == 1
    assert [u.superuser for u in openings[0].users()] == [True]


def test_users_are_listed_in_the_order_they_were_made(make_registry: RegistryFactory) -> None:
    one, other = make_registry(), make_registry()
    emails = [f"u{n}@example.org" for n in range(8)]  # (all within one second)
    for n, email in enumerate(emails):
        (one if n % 2 else other).create_user(email)
    assert [u.email for u in other.users()] == emails
