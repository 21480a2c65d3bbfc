"""rokka's user, API key and membership routes (§7)."""

from __future__ import annotations

import time
from typing import Any

import jwt
from werkzeug.wrappers import Request, Response

from rokkafs.access.guard import AuthorizedStore
from rokkafs.access.registry import AccessRegistry, ApiKeyInfo, Membership
from rokkafs.api.forms import json_body
from rokkafs.api.responses import empty, json_response
from rokkafs.errors import Forbidden, InvalidInput, NotFound, Unsupported
from rokkafs.rokka.wire import format_date
from rokkafs.store.base import Store


def _registry(request: Request) -> AccessRegistry:
    registry = request.environ.get("rokkafs.registry")
    if registry is None:
        raise Unsupported("this server has no user registry")
    return registry  # type: ignore[no-any-return]


def _principal_store(store: Store) -> AuthorizedStore:
    if not isinstance(store, AuthorizedStore):
        raise Unsupported("this server has no user registry")
    return store


def _key_json(info: ApiKeyInfo, key: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": info.id,
        "created": format_date(info.created),
        "comment": info.comment,
    }
    if info.accessed is not None:
        data["accessed"] = format_date(info.accessed)
    if key is not None:
        data["api_key"] = key
    return data


def _membership_json(membership: Membership, key: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "organization": membership.organization,
        "user_id": membership.user_id,
        "email": membership.email,
        "roles": list(membership.roles),
        "active": True,
        "created": format_date(membership.created),
        "comment": membership.comment,
    }
    if key is not None:
        data["api_key"] = key
    return data


def create_user(registry: AccessRegistry, request: Request) -> Response:
    """``POST /users`` (public): a new user with its first API key."""
    body = json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("email"), str):
        raise InvalidInput('the body must be {"email": "..."}')
    user, key = registry.create_user(body["email"])
    return json_response({"id": user.id, "email": user.email, "api_key": key})


def current_user(store: Store, request: Request) -> Response:
    """``GET /user``."""
    principal = _principal_store(store).principal
    return json_response({"user_id": principal.user.id, "email": principal.user.email})


def list_keys(store: Store, request: Request) -> Response:
    """``GET /user/apikeys``."""
    principal = _principal_store(store).principal
    return json_response([_key_json(k) for k in _registry(request).list_keys(principal.user.id)])


def current_key(store: Store, request: Request) -> Response:
    """``GET /user/apikeys/current``."""
    principal = _principal_store(store).principal
    for info in _registry(request).list_keys(principal.user.id):
        if info.id == principal.key_id:
            return json_response(_key_json(info))
    raise NotFound("the key in use was revoked")


def create_key(store: Store, request: Request) -> Response:
    """``POST /user/apikeys`` with ``{"comment": …}``."""
    principal = _principal_store(store).principal
    body = json_body(request) if request.content_length else {}
    comment = str(body.get("comment", "")) if isinstance(body, dict) else ""
    info, key = _registry(request).create_key(principal.user.id, comment)
    return json_response(_key_json(info, key))


def revoke_key(store: Store, request: Request, key_id: str) -> Response:
    """``DELETE /user/apikeys/{id}`` (not the key in use)."""
    principal = _principal_store(store).principal
    if key_id == principal.key_id:
        raise Forbidden("the key in use cannot be deleted")
    _registry(request).revoke_key(principal.user.id, key_id)
    return empty()


def token(store: Store, request: Request) -> Response:
    """``GET /user/apikeys/token``: a JWT for ``Authorization: Bearer`` (signed with a secret
    that lives only in the server's memory, so tokens end with the process)."""
    principal = _principal_store(store).principal
    secret: bytes = request.environ["rokkafs.token_secret"]
    try:
        expires_in = int(request.args.get("expires_in", "86400"))
    except ValueError:
        raise InvalidInput("expires_in must be seconds") from None
    if not 0 < expires_in <= 365 * 86400:
        raise InvalidInput("expires_in must be between 1 second and a year")
    unprotected = request.args.get("no_ip_protection", "").lower() == "true"
    wanted = [ip for ip in request.args.get("ips", "").split(",") if ip]
    if unprotected and wanted:
        raise InvalidInput("no_ip_protection and ips exclude each other")
    ips = (
        [] if unprotected else [request.remote_addr if ip == "request_ip" else ip for ip in wanted]
    )
    if not unprotected and not ips:
        ips = [request.remote_addr or ""]
    now = int(time.time())
    payload = {
        "id": principal.key_id,
        "exp": now + expires_in,
        "expt": expires_in,
        "ips": ips,
        "rn": request.args.get("renewable", "").lower() == "true",
    }
    return json_response(
        {"token": jwt.encode(payload, secret, algorithm="HS256"), "payload": payload}
    )


def _admin_of(store: Store, org: str) -> AuthorizedStore:
    guarded = _principal_store(store)
    guarded.require(org, "admin")
    return guarded


def list_memberships(store: Store, request: Request, org: str) -> Response:
    """``GET /organizations/{org}/memberships``."""
    _admin_of(store, org)
    items = [_membership_json(m) for m in _registry(request).memberships(org)]
    return json_response({"total": len(items), "items": items})


def get_membership(store: Store, request: Request, org: str, user_id: str) -> Response:
    """``GET /organizations/{org}/memberships/{user_id}``."""
    _admin_of(store, org)
    return json_response(_membership_json(_registry(request).membership(org, user_id)))


def _roles(body: object) -> tuple[list[object], str]:
    if not isinstance(body, dict):
        raise InvalidInput('the body must be {"roles": [...]} or {"role": "..."}')
    roles = body.get("roles", [body["role"]] if "role" in body else [])
    if not isinstance(roles, list):
        raise InvalidInput("roles must be a list")
    return roles, str(body.get("comment") or "")


def put_membership(store: Store, request: Request, org: str, user_id: str) -> Response:
    """``PUT /organizations/{org}/memberships/{user_id}``: 201 new, 200 changed."""
    _admin_of(store, org)
    roles, comment = _roles(json_body(request))
    membership, new = _registry(request).set_membership(org, user_id, roles, comment)
    return json_response(_membership_json(membership), 201 if new else 200)


def create_member(store: Store, request: Request, org: str) -> Response:
    """``POST /organizations/{org}/memberships``: a new user with a key and this membership."""
    _admin_of(store, org)
    roles, comment = _roles(json_body(request))
    registry = _registry(request)
    user, key = registry.create_user(f"{comment or 'member'}@{org}")
    membership, _ = registry.set_membership(org, user.id, roles, comment)
    return json_response(_membership_json(membership, key), 201)


def delete_membership(store: Store, request: Request, org: str, user_id: str) -> Response:
    """``DELETE /organizations/{org}/memberships/{user_id}`` (409 for the last admin)."""
    _admin_of(store, org)
    _registry(request).remove_membership(org, user_id)
    return empty()
