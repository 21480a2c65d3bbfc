"""Dead properties and locks live in the data directory (they survive a restart), and the
server speaks TLS when given a certificate."""

from __future__ import annotations

from pathlib import Path

import httpx
import images
import pytest
from davsupport import make_certificate
from support import serving

from rokkafs.server import make_server, running_server
from rokkafs.store.local import LocalStore

LOCK_BODY = (
    '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
    "<D:locktype><D:write/></D:locktype><D:owner>me</D:owner></D:lockinfo>"
)
PROPPATCH = (
    '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:C="http://example.org/c">'
    "<D:set><D:prop><C:colour>blue</C:colour></D:prop></D:set></D:propertyupdate>"
)
ASK_COLOUR = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:C="http://example.org/c">'
    "<D:prop><C:colour/></D:prop></D:propfind>"
)


def test_dead_properties_and_locks_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    LocalStore(data).create_organization("acme")
    with serving(data) as (url, key, _):
        dav = httpx.Client(base_url=f"{url}/dav", auth=("me", key))
        assert dav.put("/acme/a.png", content=images.png()).status_code == 201
        assert dav.request("PROPPATCH", "/acme/a.png", content=PROPPATCH).status_code == 207
        locked = dav.request(
            "LOCK", "/acme/b.png", content=LOCK_BODY, headers={"Timeout": "Second-600"}
        )
        assert locked.status_code == 201
        dav.close()
    with serving(data) as (url, key, _):
        dav = httpx.Client(base_url=f"{url}/dav", auth=("me", key))
        found = dav.request("PROPFIND", "/acme/a.png", headers={"Depth": "0"}, content=ASK_COLOUR)
        assert "blue" in found.text
        assert dav.put("/acme/b.png", content=images.png(color=2)).status_code == 423
        discovery = dav.request("PROPFIND", "/acme/b.png", headers={"Depth": "0"})
        assert "opaquelocktoken:" in discovery.text and "Second-" in discovery.text
        timeout = int(discovery.text.split("Second-")[1].split("<")[0])
        assert 0 < timeout <= 600
        dav.close()


def test_default_lock_timeout_is_an_hour_not_a_week(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = LocalStore(data)
    store.create_organization("acme")
    with running_server(make_server(store, lambda: ["k" * 64], port=0, data_dir=data)) as url:
        dav = httpx.Client(base_url=f"{url}/dav", auth=("me", "k" * 64))
        locked = dav.request("LOCK", "/acme/x.png", content=LOCK_BODY)  # no Timeout header
        seconds = int(locked.text.split("Second-")[1].split("<")[0])
        assert 3000 < seconds <= 3600
        dav.close()
    store.close()


def test_tls(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    data = tmp_path / "data"
    store = LocalStore(data)
    store.create_organization("acme")
    server = make_server(
        store, lambda: ["t" * 64], port=0, data_dir=data, tls_cert=cert, tls_key=key
    )
    with running_server(server) as url:
        assert url.startswith("https://")
        with httpx.Client(verify=False, auth=("me", "t" * 64)) as client:
            assert client.put(f"{url}/dav/acme/a.png", content=images.png()).status_code == 201
            assert (
                client.get(f"{url}/sourceimages/acme", headers={"Api-Key": "t" * 64}).json()[
                    "total"
                ]
                == 1
            )
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http{url[5:]}/", timeout=5)
    store.close()
