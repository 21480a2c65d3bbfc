"""Store contract: organizations."""

from __future__ import annotations

import pytest

from rokkafs.errors import AlreadyExists, InvalidInput, OrganizationNotFound
from rokkafs.store.base import Store


def test_create_get_list(store: Store) -> None:
    created = store.create_organization("photo-lib-2", display_name="Photos")
    assert created.name == "photo-lib-2"
    assert created.display_name == "Photos"
    assert created.master_organization == "photo-lib-2"
    assert store.get_organization("photo-lib-2") == created
    assert [o.name for o in store.list_organizations()] == ["acme", "other", "photo-lib-2"]


@pytest.mark.parametrize("name", ["", "Acme", "a_b", "a b", "ä", "x" * 65, "../etc", "a/b"])
def test_invalid_names_are_refused_and_change_nothing(store: Store, name: str) -> None:
    with pytest.raises(InvalidInput):
        store.create_organization(name)
    assert [o.name for o in store.list_organizations()] == ["acme", "other"]


def test_duplicate_is_refused(store: Store) -> None:
    with pytest.raises(AlreadyExists):
        store.create_organization("acme")


def test_unknown_organization(store: Store) -> None:
    with pytest.raises(OrganizationNotFound):
        store.get_organization("nope")
    with pytest.raises(OrganizationNotFound):
        store.list_source_images("nope")


def test_options(store: Store) -> None:
    changed = store.set_organization_options("acme", {"remote_basepath": "https://x.org/"})
    assert changed.options == {"remote_basepath": "https://x.org/"}
    merged = store.set_organization_options("acme", {"protect_dynamic_stack": True})
    assert merged.options == {"remote_basepath": "https://x.org/", "protect_dynamic_stack": True}
    assert store.get_organization("acme").options == merged.options
    for bad in (
        {"nonsense": 1},
        {"protect_dynamic_stack": "yes"},
        {"remote_fullurl_whitelist": [1]},
    ):
        with pytest.raises(InvalidInput):
            store.set_organization_options("acme", bad)
    with pytest.raises(OrganizationNotFound):
        store.set_organization_options("nope", {})
    assert store.get_organization("acme").options == merged.options
