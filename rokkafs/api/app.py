"""The WSGI application: routing, authentication and the one error mapping of the REST API.

Besides rokka's routes it answers a few rokkafs extensions (``GET /organizations``,
``DELETE /trash``, ``GET /check``, ``PUT …/options/mtime``); a client that sends
``X-Rokkafs-Extensions: 1`` also gets each image's modification time and the exact error class,
so RemoteStore behaves exactly like the store behind the server.

Errors leave as rokka does: ``{"error": {"code": N, "message": "…"}}``, except missing or
invalid credentials, which get rokka's flat ``{"code": 403, "message": …,
"invalid_authentication": true}``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable
from typing import Any

import jwt
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from rokkafs.access.guard import AuthorizedStore
from rokkafs.access.registry import AccessRegistry, Principal, administrator, principal_for
from rokkafs.access.throttle import Throttle
from rokkafs.api import extensions, sourceimages, users
from rokkafs.api.forms import ApiRequest
from rokkafs.api.responses import EXTENSIONS, json_response
from rokkafs.errors import RokkaFSError
from rokkafs.store.base import Store
from rokkafs.store.blobs import BlobStorage

__all__ = ["make_app"]

log = logging.getLogger(__name__)

Handler = Callable[..., Response]
_SI = "/sourceimages/<org>"
_IMG = "/sourceimages/<org>/<ref>"
ROUTES: list[tuple[str, tuple[str, ...], Handler]] = [
    ("/", ("GET",), sourceimages.resources),
    ("/organizations", ("GET",), extensions.list_organizations),
    ("/trash", ("DELETE",), extensions.purge_trash),
    ("/check", ("GET",), extensions.check),
    ("/organizations/<name>", ("PUT",), sourceimages.create_organization),
    ("/organizations/<name>", ("GET",), sourceimages.get_organization),
    ("/organizations/<name>/options", ("PUT",), sourceimages.set_options),
    ("/organizations/<name>/options/<option>", ("PUT",), sourceimages.set_option),
    (_SI, ("POST",), sourceimages.create),
    (_SI, ("GET",), sourceimages.list_images),
    (_SI, ("DELETE",), sourceimages.delete_by_binary_hash),
    (f"{_SI}/copy", ("POST",), sourceimages.copy_batch),
    (f"{_SI}/download", ("GET",), extensions.download_list),
    (f"{_SI}/binaryhash/<binary_hash>", ("GET",), sourceimages.by_binary_hash),
    (_IMG, ("GET",), sourceimages.get),
    (_IMG, ("DELETE",), sourceimages.delete),
    (_IMG, ("COPY",), sourceimages.copy),
    (f"{_IMG}/copy", ("POST",), sourceimages.copy),
    (f"{_IMG}/restore", ("POST",), sourceimages.restore),
    (f"{_IMG}/download", ("GET",), sourceimages.download),
    (f"{_IMG}/name", ("PUT",), sourceimages.rename),
    (f"{_IMG}/options/locked", ("PUT",), sourceimages.set_locked),
    (f"{_IMG}/options/mtime", ("PUT",), extensions.set_mtime),
    (f"{_IMG}/cache", ("DELETE",), sourceimages.invalidate_cache),
    (f"{_IMG}/meta/user", ("GET",), sourceimages.get_user_metadata),
    (f"{_IMG}/meta/user", ("PUT",), sourceimages.replace_user_metadata),
    (f"{_IMG}/meta/user", ("PATCH",), sourceimages.patch_user_metadata),
    (f"{_IMG}/meta/user", ("DELETE",), sourceimages.delete_user_metadata),
    (f"{_IMG}/meta/user/<key>", ("GET",), sourceimages.get_user_metadata_field),
    (f"{_IMG}/meta/user/<key>", ("PUT",), sourceimages.set_user_metadata_field),
    (f"{_IMG}/meta/user/<key>", ("DELETE",), sourceimages.delete_user_metadata_field),
    (f"{_IMG}/meta/dynamic/<name>", ("PUT",), sourceimages.set_dynamic_metadata),
    (f"{_IMG}/meta/dynamic/<name>", ("DELETE",), sourceimages.delete_dynamic_metadata),
    ("/users", ("POST",), users.create_user),
    ("/user", ("GET",), users.current_user),
    ("/user/apikeys", ("GET",), users.list_keys),
    ("/user/apikeys", ("POST",), users.create_key),
    ("/user/apikeys/current", ("GET",), users.current_key),
    ("/user/apikeys/token", ("GET",), users.token),
    ("/user/apikeys/<key_id>", ("DELETE",), users.revoke_key),
    ("/organizations/<org>/memberships", ("GET",), users.list_memberships),
    ("/organizations/<org>/memberships", ("POST",), users.create_member),
    ("/organizations/<org>/memberships/<user_id>", ("GET",), users.get_membership),
    ("/organizations/<org>/memberships/<user_id>", ("PUT",), users.put_membership),
    ("/organizations/<org>/memberships/<user_id>", ("DELETE",), users.delete_membership),
]


def _error(status: int, message: str, kind: str | None = None) -> Response:
    error: dict[str, object] = {"code": status, "message": message}
    if kind is not None and EXTENSIONS.get():
        error["rokkafs_error"] = kind  # lets RemoteStore raise exactly the same class
    return json_response({"error": error}, status)


class RokkaApi:
    """rokka's REST API over one store, guarded by API keys."""

    def __init__(
        self,
        store: Store,
        api_keys: Callable[[], Iterable[str]],
        registry: AccessRegistry | None = None,
        side_blobs: BlobStorage | None = None,
    ) -> None:
        self.store = store
        self._api_keys = api_keys
        self._registry = registry
        self._side_blobs = side_blobs
        self._throttle = Throttle()
        self._token_secret = secrets.token_bytes(32)
        self._map = Map(
            [Rule(path, methods=methods, endpoint=handler) for path, methods, handler in ROUTES],
            strict_slashes=False,
        )

    def _from_token(self, request: Request, token: str) -> Principal | None:
        try:
            payload = jwt.decode(token, self._token_secret, algorithms=["HS256"])
        except jwt.PyJWTError:
            return None
        ips = payload.get("ips") or []
        if ips and request.remote_addr not in ips:
            return None
        if payload.get("id") == "administrator":
            return administrator()
        if self._registry is None:
            return None
        return self._registry.principal_for_key(str(payload.get("id")))

    def _principal(self, request: Request) -> Principal | None:
        """Who calls: a registry user, or the administrator for a key of ``api_keys``; by
        ``Api-Key`` or by a token (``Authorization: Bearer``)."""
        bearer = request.headers.get("Authorization", "")
        if bearer[:7].lower() == "bearer ":
            return self._from_token(request, bearer[7:].strip())
        return principal_for(request.headers.get("Api-Key", ""), self._api_keys(), self._registry)

    def dispatch(self, request: Request) -> Response:
        adapter = self._map.bind_to_environ(request.environ)
        try:
            handler, args = adapter.match()
        except MethodNotAllowed:
            return _error(405, f"method {request.method} is not allowed here")
        except NotFound:
            return _error(404, f"no route {request.path}")
        except HTTPException as exc:  # redirects and the like
            return _error(exc.code or 400, exc.description or "bad request")
        request.environ["rokkafs.registry"] = self._registry
        request.environ["rokkafs.token_secret"] = self._token_secret
        request.environ["rokkafs.side_blobs"] = self._side_blobs  # (for the purge and check)
        registry = self._registry
        if handler is users.create_user:  # public: signing up
            if registry is None:
                return _error(501, "this server has no user registry")
            return self._run(request, lambda: users.create_user(registry, request))
        address = request.remote_addr or "?"
        self._throttle.wait(address)
        principal = self._principal(request)
        if principal is None:
            self._throttle.failed(address)
            bearer = request.headers.get("Authorization", "")[:7].lower() == "bearer "
            return json_response(
                {
                    "code": 401 if bearer else 403,
                    "message": "API credentials are not supplied or not a valid format.",
                    "invalid_authentication": True,
                },
                401 if bearer else 403,
            )
        request.environ["rokkafs.principal"] = principal  # for the access log
        store = AuthorizedStore(self.store, principal, self._registry)
        return self._run(request, lambda: handler(store, request, **args))

    @staticmethod
    def _run(request: Request, call: Callable[[], Response]) -> Response:
        """Run a handler; the one place errors become rokka's error bodies."""
        token = EXTENSIONS.set(request.headers.get("X-Rokkafs-Extensions") == "1")
        try:
            return call()
        except RokkaFSError as exc:
            return _error(exc.http_status, exc.message, type(exc).__name__)
        except HTTPException as exc:
            return _error(exc.code or 400, exc.description or "bad request")
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.path)
            return _error(500, "internal error")
        finally:
            EXTENSIONS.reset(token)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = ApiRequest(environ)
        try:
            try:
                response = self.dispatch(request)
            except RokkaFSError as exc:  # (from authentication: the registry's database)
                response = _error(exc.http_status, exc.message, type(exc).__name__)
            return response(environ, start_response)
        finally:
            request.close()  # removes spooled upload files


def make_app(
    store: Store,
    api_keys: Callable[[], Iterable[str]],
    registry: AccessRegistry | None = None,
    side_blobs: BlobStorage | None = None,
) -> RokkaApi:
    """Build the WSGI application. ``api_keys`` yields administrator keys; with a
    ``registry`` its users' keys work too, each limited to its memberships. ``side_blobs``:
    where the WebDAV face keeps side files' bytes (the purge and the check look there too)."""
    return RokkaApi(store, api_keys, registry, side_blobs)
