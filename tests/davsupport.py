"""The WebDAV test server's handle (imported by the WebDAV tests and their conftest)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import defusedxml.ElementTree as SafeET
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


def responses(body: str) -> dict[str, dict[str, str]]:
    """A 207 Multi-Status body as {href: {property in Clark notation: text}} (the properties
    found with status 200), whatever namespace prefixes the server chose."""
    found: dict[str, dict[str, str]] = {}
    for response in SafeET.fromstring(body).iter("{DAV:}response"):
        href = response.findtext("{DAV:}href", "")
        properties = found.setdefault(href, {})
        for propstat in response.iter("{DAV:}propstat"):
            if " 200 " not in propstat.findtext("{DAV:}status", ""):
                continue
            for prop in propstat.iter("{DAV:}prop"):
                for element in prop:
                    properties[element.tag] = "".join(element.itertext())
    return found
