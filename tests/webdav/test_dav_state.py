"""Dead properties and locks in ``dav.sqlite3``: shared by two servers on one data directory,
and imported once from the shelve files of older versions."""

from __future__ import annotations

import shelve
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import images
from davsupport import responses
from support import serving
from test_dav_persistence_tls import ASK_COLOUR, LOCK_BODY, PROPPATCH

from rokkafs.store.local import LocalStore
from rokkafs.webdav.davstate import DavState

COLOUR = "{http://example.org/c}colour"
ASK_LOCKS = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop>'
    "</D:propfind>"
)


def within_a_second(condition: Callable[[], bool]) -> bool:
    """Whether ``condition`` holds within one second (another process's change must show
    that soon, whatever the server's own recheck interval is)."""
    deadline = time.monotonic() + 1.0
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_two_server_processes_share_properties_and_locks(tmp_path: Path) -> None:
    data = tmp_path / "data"
    LocalStore(data).create_organization("acme")
    with serving(data) as (first, key, _), serving(data) as (second, _, _):
        one = httpx.Client(base_url=f"{first}/dav", auth=("me", key))
        two = httpx.Client(base_url=f"{second}/dav", auth=("me", key))
        assert one.put("/acme/a.png", content=images.png()).status_code == 201
        assert two.put("/acme/b.png", content=images.png(color=1)).status_code == 201

        def colour() -> list[str]:  # (reads only: nothing that two writes refreshes it)
            seen = two.request(
                "PROPFIND", "/acme/a.png", headers={"Depth": "0"}, content=ASK_COLOUR
            )
            return [props.get(COLOUR, "") for props in responses(seen.text).values()]

        def locked_on_two() -> bool:
            seen = two.request("PROPFIND", "/acme/b.png", headers={"Depth": "0"}, content=ASK_LOCKS)
            return "opaquelocktoken" in seen.text

        assert colour() == [""] and not locked_on_two()  # (two has read its state now)
        assert one.request("PROPPATCH", "/acme/a.png", content=PROPPATCH).status_code == 207
        assert within_a_second(lambda: colour() == ["blue"])
        locked = one.request("LOCK", "/acme/b.png", content=LOCK_BODY)
        assert locked.status_code == 200
        assert within_a_second(locked_on_two)
        assert two.put("/acme/b.png", content=images.png(color=2)).status_code == 423
        token = locked.headers["Lock-Token"]
        assert one.request("UNLOCK", "/acme/b.png", headers={"Lock-Token": token}).is_success
        assert within_a_second(lambda: not locked_on_two())
        assert two.put("/acme/b.png", content=images.png(color=2)).status_code == 204
        one.close()
        two.close()


def test_shelve_files_of_older_versions_are_imported_once(tmp_path: Path) -> None:
    old_property = {COLOUR: b"<C:colour xmlns:C='http://example.org/c'>blue</C:colour>"}
    with shelve.open(str(tmp_path / "dav-properties.shelve")) as old:
        old["/acme/a.png"] = old_property
    with shelve.open(str(tmp_path / "dav-locks.shelve")) as old:
        old["URL2TOKEN:/acme/b.png"] = ["opaquelocktoken:x"]
    state = DavState(tmp_path)
    assert dict(state.table("properties")) == {"/acme/a.png": old_property}
    assert dict(state.table("locks")) == {"URL2TOKEN:/acme/b.png": ["opaquelocktoken:x"]}
    set_aside = [f.name for f in tmp_path.glob("dav-*.shelve*")]
    assert set_aside and all(name.endswith(".imported") for name in set_aside)
    state.table("properties")["/acme/a.png"] = {}  # changed since; no second import over it
    assert dict(DavState(tmp_path).table("properties")) == {"/acme/a.png": {}}
