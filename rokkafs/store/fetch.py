"""Fetching a source image from a URL, safely.

Only http and https; every address a host name resolves to must be public unless private
addresses are allowed by configuration (so an upload-by-URL cannot reach loopback, the local
network, link-local metadata services and the like); redirects are followed by hand, at most
five, each checked the same way; the body is streamed, bounded in size and in total time.

A host name is resolved for the check and again by the HTTP client, so a DNS answer that
changes between the two (rebinding) is not caught; deployments that need that guarantee put
an egress proxy in front.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

import httpx

from rokkafs.errors import InvalidInput

__all__ = ["check_url", "fetch_url"]

MAX_REDIRECTS = 5


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse URLs that are not http(s) or point at non-public addresses.

    Raises:
        InvalidInput: with the reason.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"only http and https URLs can be fetched, not {url!r}")
    if parts.username or parts.password:
        raise InvalidInput("URLs with credentials are not fetched")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidInput(f"cannot resolve {parts.hostname!r}: {exc}") from exc
    if allow_private:
        return
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            raise InvalidInput(
                f"the URL's host {parts.hostname!r} is not a public address ({address})"
            )


def _name_from_url(url: str) -> str:
    name = PurePosixPath(unquote(urlsplit(url).path)).name
    return name or "download"


@contextmanager
def fetch_url(
    url: str, *, timeout: float, allow_private: bool, client: httpx.Client | None = None
) -> Iterator[tuple[str, Iterator[bytes]]]:
    """Open a URL for streaming.

    Yields:
        The name suggested by the final URL and an iterator over the body's chunks; the
        iterator raises :class:`InvalidInput` once ``timeout`` seconds have passed in all.

    Raises:
        InvalidInput: refused URL or address, too many redirects, an error status, a
            network failure.
    """
    deadline = time.monotonic() + timeout
    own_client = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=False)
    try:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            check_url(current, allow_private=allow_private)
            try:
                with http.stream("GET", current) as response:
                    if response.is_redirect:
                        current = str(response.url.join(response.headers["location"]))
                        continue
                    if response.status_code != 200:
                        raise InvalidInput(f"fetching {current} answered {response.status_code}")
                    yield _name_from_url(current), _bounded(response, deadline, current)
                    return
            except httpx.HTTPError as exc:
                raise InvalidInput(f"fetching {current} failed: {exc}") from exc
        raise InvalidInput(f"more than {MAX_REDIRECTS} redirects fetching {url}")
    finally:
        if own_client:
            http.close()


def _bounded(response: httpx.Response, deadline: float, url: str) -> Iterator[bytes]:
    try:
        for chunk in response.iter_bytes(1 << 20):
            if time.monotonic() > deadline:
                raise InvalidInput(f"fetching {url} took too long")
            yield chunk
    except httpx.HTTPError as exc:
        raise InvalidInput(f"fetching {url} failed: {exc}") from exc
