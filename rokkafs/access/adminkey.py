"""The bootstrap admin API key of an embedded data directory.

On first start rokkafs creates one API key in rokka's format (32 lowercase letters and digits,
then 32 mixed-case letters and digits) and writes it to ``<data>/admin-api-key`` with mode
0600. It is the only key ever stored in clear; the access-control issue adds users and hashed
keys.
"""

from __future__ import annotations

import os
import secrets
import string
from pathlib import Path

__all__ = ["ADMIN_KEY_FILE", "ensure_admin_key", "new_api_key"]

ADMIN_KEY_FILE = "admin-api-key"


def new_api_key() -> str:
    """A fresh random API key in rokka's 64-character format."""
    prefix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(32))
    secret = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    return prefix + secret


def ensure_admin_key(data_dir: Path) -> tuple[str, bool]:
    """Return the admin key of ``data_dir``, creating it on first use.

    Returns:
        The key and whether it was created now.
    """
    path = data_dir / ADMIN_KEY_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    key = new_api_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip(), False
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key, True
