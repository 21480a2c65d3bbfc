"""The WebDAV test server's handle (imported by the WebDAV tests and their conftest)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from rokkafs.store.local import LocalStore

KEY = "d" * 64


@dataclass
class DavServer:
    url: str
    dav: str
    key: str
    store: LocalStore
    data: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.dav, auth=("someone@example.org", self.key), timeout=60)
