"""The server writes one access-log line per request, without secrets."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import images
import pytest

from rokkafs.server import make_server, running_server
from rokkafs.store.local import LocalStore

KEY = "l" * 64


def test_one_line_per_request_without_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = LocalStore(tmp_path / "data")
    store.create_organization("acme")
    caplog.set_level(logging.INFO, logger="rokkafs.access")
    with running_server(
        make_server(store, lambda: [KEY], port=0, data_dir=tmp_path / "data")
    ) as url:
        httpx.post(
            f"{url}/sourceimages/acme",
            headers={"Api-Key": KEY},
            files={"f": ("a.png", images.png())},
        )
        httpx.get(f"{url}/sourceimages/acme?name=secret-search", headers={"Api-Key": "wrong"})
        httpx.request("PROPFIND", f"{url}/dav/acme/", headers={"Depth": "1"}, auth=("me", KEY))
    store.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "rokkafs.access"]
    assert len(lines) == 3, lines
    assert lines[0].startswith("POST /sourceimages/acme 200 ") and lines[0].endswith(
        "administrator"
    )
    assert lines[1].startswith("GET /sourceimages/acme 403 ") and lines[1].endswith(" -")
    assert lines[2].startswith("PROPFIND /dav/acme/ 207 ")
    assert not any(KEY in line or "secret-search" in line for line in lines)
    assert all(line.split()[4].endswith("ms") and int(line.split()[3]) > 0 for line in lines)
