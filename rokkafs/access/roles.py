"""rokka's roles and the permissions they grant; every store operation names the permission
it needs (see :mod:`rokkafs.access.guard`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

__all__ = ["ROLES", "Permission", "permissions_for", "validate_roles"]

Permission = Literal["read", "write", "upload", "lock", "admin", "download_protected"]

_GRANTS: dict[str, frozenset[str]] = {
    "read": frozenset({"read"}),
    "write": frozenset({"read", "write", "upload"}),
    "upload": frozenset({"upload"}),
    "admin": frozenset({"read", "write", "upload", "lock", "admin", "download_protected"}),
    "sourceimages:read": frozenset({"read"}),
    "sourceimages:write": frozenset({"read", "write", "upload"}),
    "sourceimages:unlock": frozenset({"lock"}),
    "sourceimages:download:protected": frozenset({"download_protected"}),
}
ROLES = tuple(_GRANTS)


def validate_roles(roles: Iterable[object]) -> tuple[str, ...]:
    """Return the roles if they are all rokka roles (deduplicated, in order).

    Raises:
        InvalidInput: an unknown role or none at all.
    """
    from rokkafs.errors import InvalidInput

    found: list[str] = []
    for role in roles:
        if not isinstance(role, str) or role not in _GRANTS:
            raise InvalidInput(f"unknown role {role!r}: one of {', '.join(ROLES)}")
        if role not in found:
            found.append(role)
    if not found:
        raise InvalidInput("a membership needs at least one role")
    return tuple(found)


def permissions_for(roles: Iterable[str]) -> frozenset[str]:
    """Every permission the roles grant together."""
    granted: set[str] = set()
    for role in roles:
        granted |= _GRANTS.get(role, frozenset())
    return frozenset(granted)
