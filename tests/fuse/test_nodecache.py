"""The mount's node cache as other nodes' changes reach it (rokkafs.fusefs.nodecache)."""

from __future__ import annotations

import time

from rokkafs.fusefs.nodecache import NodeCache
from rokkafs.provider import Node


def folder(name: str) -> Node:
    return Node("folder", name, "acme", name)


def file(name: str) -> Node:
    return Node("side", name.rsplit("/", 1)[-1], "acme", name)


def test_a_change_forgets_the_listings_above_and_the_nodes_beside_it() -> None:
    cache = NodeCache(60)
    cache.put_listing("/acme", [".", "..", "a"], {"/acme/a": folder("a")})
    cache.put_listing("/acme/a", [".", "..", "x.png"], {"/acme/a/x.png": file("a/x.png")})
    cache.put("/acme/a/y.png", None)  # (a cached miss)
    cache.put_listing("/other", [".", ".."], {})
    cache.invalidate({"acme/a/x.png"})
    assert cache.listing("/acme") is None and cache.listing("/acme/a") is None
    assert cache.get("/acme/a/x.png") == (False, None)  # (beside it)
    assert cache.get("/acme/a") == (False, None)  # (the folder may have lost its last file)
    assert cache.get("/acme/a/y.png") == (False, None)  # (misses go)
    assert cache.listing("/other") == [".", ".."]  # (elsewhere: kept)


def test_a_fill_that_read_before_a_change_is_not_kept() -> None:
    cache = NodeCache(60)
    since = cache.generation  # (a listing starts reading the store…)
    cache.invalidate({"acme/new.png"})  # (…another node adds a file meanwhile…)
    cache.put_listing("/acme", [".", ".."], {}, since)  # (…the stale listing arrives)
    cache.put("/acme/new.png", None, since)
    assert cache.listing("/acme") is None and cache.get("/acme/new.png") == (False, None)
    cache.put_listing("/acme", [".", "..", "new.png"], {}, cache.generation)
    assert cache.listing("/acme") is not None


def test_a_path_too_long_to_announce_forgets_everything() -> None:
    cache = NodeCache(60)
    cache.put_listing("/other", [".", ".."], {})
    cache.invalidate({"*"})
    assert cache.listing("/other") is None


def test_what_was_seen_at_a_path_comes_with_when() -> None:
    cache = NodeCache(60)
    cache.put("/acme/miss.png", None)
    cache.put_listing("/acme/a", [".", "..", "x.png"], {"/acme/a/x.png": file("a/x.png")})
    now = time.monotonic()
    miss, listed, absent = (
        cache.seen(p) for p in ("/acme/miss.png", "/acme/a/x.png", "/acme/a/y.png")
    )
    assert miss is not None and miss.node is None and now - 1 < miss.at <= now
    assert listed is not None and listed.node == file("a/x.png")
    assert absent is not None and absent.node is None  # (the listing does not show it)
    assert cache.seen("/acme/b/unknown.png") is None
    assert cache.seen("/acme/a/x~1a2b3c.png", listed=False) is None  # (a spelling: not listed)
    assert NodeCache(0).seen("/acme/miss.png") is None


def test_this_mounts_write_replaces_the_listed_entry_and_drops_fills_in_flight() -> None:
    cache = NodeCache(60)
    cache.put_listing(
        "/acme", [".", "..", ("x.png", {"st_size": 1}, 0)], {"/acme/x.png": file("x.png")}
    )
    cache.put_listing("/other", [".", ".."], {})
    since = cache.generation  # (lookups start reading the store…)
    cache.settle("/acme/x.png", file("x.png"), {"st_size": 2})  # (…the mount overwrites x.png…)
    cache.settle("/acme/y.png", file("y.png"), {"st_size": 3})
    cache.put("/acme/y.png", None, since)  # (…a miss read before the write arrives)
    cache.put_listing("/acme", [".", ".."], {}, since)
    cache.put("/other/z.png", None, since)  # (another folder: nothing was written there)
    assert cache.listing("/acme") == [
        ".",
        "..",
        ("x.png", {"st_size": 2}, 0),
        ("y.png", {"st_size": 3}, 0),
    ]
    assert cache.get("/acme/y.png") == (True, file("y.png"))
    assert cache.get("/other/z.png") == (True, None)


def test_forgetting_a_path_forgets_the_folders_above_and_the_trash() -> None:
    cache = NodeCache(60)
    cache.put_listing("/acme", [".", "..", "a"], {"/acme/a": folder("a")})
    cache.put_listing("/acme/a", [".", "..", "b"], {"/acme/a/b": folder("a/b")})
    cache.put_listing("/acme/.trash", [".", ".."], {})
    cache.put_listing("/acme/.trash/a", [".", ".."], {})
    cache.put_listing("/other/.trash", [".", ".."], {})
    cache.put("/acme/.trash/a/x.png", None)  # (a miss below .trash is not kept)
    assert cache.get("/acme/.trash/a/x.png") == (False, None)
    cache.forget("/acme/a/b/x.png")  # (the last image of a folder of images only)
    assert cache.listing("/acme") is None and cache.listing("/acme/a") is None
    assert cache.get("/acme/a") == (False, None) and cache.get("/acme/a/b") == (False, None)
    assert cache.listing("/acme/.trash") is None and cache.listing("/acme/.trash/a") is None
    assert cache.listing("/other/.trash") == [".", ".."]
    cache.put_listing("/acme/.trash", [".", ".."], {})
    cache.invalidate({"acme/c.png"})  # (another node deleted or replaced c.png)
    assert cache.listing("/acme/.trash") is None
