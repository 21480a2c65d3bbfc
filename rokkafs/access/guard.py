"""AuthorizedStore: the one authorization check, shared by every face.

It wraps a store for one principal; each operation names the permission it needs in the
organization(s) it touches. An organization the principal is no member of does not exist for
it (OrganizationNotFound: it learns nothing); a member without the permission gets Forbidden.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import IO, BinaryIO

from rokkafs.access.registry import AccessRegistry, Principal
from rokkafs.access.roles import permissions_for
from rokkafs.errors import Forbidden, OrganizationNotFound
from rokkafs.model import (
    CheckReport,
    CopyAllResult,
    CopyOutcome,
    CopyResult,
    Organization,
    PurgeResult,
    SourceImage,
    SourceImageList,
)
from rokkafs.rokka.search import SearchQuery
from rokkafs.store.base import Store
from rokkafs.store.config import OptimizeSource

__all__ = ["AuthorizedStore"]


class AuthorizedStore(Store):
    """A store as one principal may use it."""

    def __init__(self, store: Store, principal: Principal, registry: AccessRegistry | None) -> None:
        self._store = store
        self.principal = principal
        self._registry = registry
        self.config = store.config

    def require(self, org: str, permission: str) -> None:
        """The one check: raise unless the principal may do ``permission`` in ``org``."""
        if not self.principal.is_member(org):
            raise OrganizationNotFound(f"organization {org!r} not found")
        if not self.principal.may(org, permission):
            raise Forbidden(f"your roles in {org!r} do not allow {permission}")

    def _superuser(self, what: str) -> None:
        if not self.principal.user.superuser:
            raise Forbidden(f"only the administrator of this rokkafs may {what}")

    # organizations
    def create_organization(
        self, name: str, *, display_name: str | None = None, billing_email: str = ""
    ) -> Organization:
        organization = self._store.create_organization(
            name, display_name=display_name, billing_email=billing_email
        )
        if self._registry is not None and not self.principal.user.superuser:
            self._registry.set_membership(name, self.principal.user.id, ["admin"])
            grants = {**self.principal.grants, name: permissions_for(["admin"])}
            self.principal = replace(self.principal, grants=grants)  # (its next calls see it)
        return organization

    def get_organization(self, name: str) -> Organization:
        self.require(name, "read")
        return self._store.get_organization(name)

    def syncs_staging(self) -> bool:
        return self._store.syncs_staging()

    def organization_created(self, name: str) -> datetime:
        self.require(name, "read")
        return self._store.organization_created(name)

    def set_organization_options(self, name: str, options: Mapping[str, object]) -> Organization:
        self.require(name, "admin")
        return self._store.set_organization_options(name, options)

    def list_organizations(self) -> list[Organization]:
        return [o for o in self._store.list_organizations() if self.principal.is_member(o.name)]

    # creating
    def create_source_image(
        self,
        org: str,
        data: IO[bytes],
        *,
        name: str,
        user_metadata: Mapping[str, object] | None = None,
        dynamic_metadata: Mapping[str, object] | None = None,
        optimize_source: OptimizeSource | None = None,
        protected: bool = False,
        mtime: float | None = None,
    ) -> SourceImage:
        self.require(org, "upload")
        return self._store.create_source_image(
            org,
            data,
            name=name,
            user_metadata=user_metadata,
            dynamic_metadata=dynamic_metadata,
            optimize_source=optimize_source,
            protected=protected,
            mtime=mtime,
        )

    def write_source_image(
        self,
        org: str,
        data: IO[bytes],
        *,
        name: str,
        replacing: str | None = None,
        mtime: float | None = None,
    ) -> SourceImage:
        self.require(org, "upload")
        if not self.principal.may(org, "write"):  # (a member who may only add files)
            self.require(org, "read")
            if replacing is not None or self._store.find_by_name(org, name) is not None:
                self.require(org, "write")
        return self._store.write_source_image(
            org, data, name=name, replacing=replacing, mtime=mtime
        )

    def create_source_image_from_url(
        self,
        org: str,
        url: str,
        *,
        name: str | None = None,
        user_metadata: Mapping[str, object] | None = None,
        dynamic_metadata: Mapping[str, object] | None = None,
        optimize_source: OptimizeSource | None = None,
    ) -> SourceImage:
        self.require(org, "upload")
        return self._store.create_source_image_from_url(
            org,
            url,
            name=name,
            user_metadata=user_metadata,
            dynamic_metadata=dynamic_metadata,
            optimize_source=optimize_source,
        )

    # reading
    def get_source_image(self, org: str, ref: str, *, deleted: bool = False) -> SourceImage:
        self.require(org, "read")
        return self._store.get_source_image(org, ref, deleted=deleted)

    def list_source_images(self, org: str, query: SearchQuery | None = None) -> SourceImageList:
        self.require(org, "read")
        return self._store.list_source_images(org, query)

    def find_by_name(self, org: str, name: str, *, deleted: bool = False) -> SourceImage | None:
        self.require(org, "read")
        return self._store.find_by_name(org, name, deleted=deleted)

    def find_by_name_or_folder(
        self, org: str, name: str, *, deleted: bool = False
    ) -> tuple[SourceImage | None, bool]:
        self.require(org, "read")
        return self._store.find_by_name_or_folder(org, name, deleted=deleted)

    def open_source_image(self, org: str, ref: str) -> BinaryIO:
        self.require(org, "read")
        may_protected = self.principal.may(org, "download_protected")  # (then no lookup)
        if not may_protected and self._store.get_source_image(org, ref).protected:
            raise Forbidden("downloading protected originals needs sourceimages:download:protected")
        return self._store.open_source_image(org, ref)

    def open_image(self, image: SourceImage) -> BinaryIO:
        org = image.organization
        self.require(org, "read")
        if image.protected and not self.principal.may(org, "download_protected"):
            raise Forbidden("downloading protected originals needs sourceimages:download:protected")
        return self._store.open_image(image)

    # deleting
    def source_image_md5(self, org: str, ref: str) -> str | None:
        self.require(org, "read")
        return self._store.source_image_md5(org, ref)

    def delete_source_image(self, org: str, ref: str) -> None:
        self.require(org, "write")
        self._store.delete_source_image(org, ref)

    def delete_by_binary_hash(self, org: str, binary_hash: str) -> list[str]:
        self.require(org, "write")
        return self._store.delete_by_binary_hash(org, binary_hash)

    def restore_source_image(self, org: str, ref: str) -> SourceImage:
        self.require(org, "write")
        return self._store.restore_source_image(org, ref)

    def purge_trash(self, *, older_than: timedelta | None = None) -> PurgeResult:
        self._superuser("purge the trash")
        return self._store.purge_trash(older_than=older_than)

    # copying
    def copy_source_image(
        self, org: str, ref: str, destination: str, *, overwrite: bool = True
    ) -> CopyOutcome:
        self.require(org, "read")
        self.require(destination, "write")
        return self._store.copy_source_image(org, ref, destination, overwrite=overwrite)

    def copy_source_images(
        self, org: str, refs: Iterable[str], destination: str, *, overwrite: bool = True
    ) -> CopyResult:
        self.require(org, "read")
        self.require(destination, "write")
        return self._store.copy_source_images(org, refs, destination, overwrite=overwrite)

    def copy_all_source_images(
        self, org: str, destination: str, *, overwrite: bool = True
    ) -> CopyAllResult:
        self.require(org, "read")
        self.require(destination, "write")
        return self._store.copy_all_source_images(org, destination, overwrite=overwrite)

    # changing
    def rename_source_image(self, org: str, ref: str, name: str) -> SourceImage:
        self.require(org, "write")
        return self._store.rename_source_image(org, ref, name)

    def move_source_image(self, org: str, ref: str, name: str) -> SourceImage:
        self.require(org, "write")
        return self._store.move_source_image(org, ref, name)

    def set_locked(self, org: str, ref: str, locked: bool) -> SourceImage:
        self.require(org, "lock")
        return self._store.set_locked(org, ref, locked)

    def replace_user_metadata(
        self, org: str, ref: str, metadata: Mapping[str, object]
    ) -> SourceImage:
        self.require(org, "write")
        return self._store.replace_user_metadata(org, ref, metadata)

    def patch_user_metadata(
        self, org: str, ref: str, changes: Mapping[str, object | None]
    ) -> SourceImage:
        self.require(org, "write")
        return self._store.patch_user_metadata(org, ref, changes)

    def delete_user_metadata_field(self, org: str, ref: str, key: str) -> SourceImage:
        self.require(org, "write")
        return self._store.delete_user_metadata_field(org, ref, key)

    def set_dynamic_metadata(
        self,
        org: str,
        ref: str,
        name: str,
        value: Mapping[str, object],
        *,
        delete_previous: bool = False,
        keep_hash: bool = False,
    ) -> SourceImage:
        self.require(org, "write")
        return self._store.set_dynamic_metadata(
            org, ref, name, value, delete_previous=delete_previous, keep_hash=keep_hash
        )

    def delete_dynamic_metadata(
        self,
        org: str,
        ref: str,
        name: str,
        *,
        delete_previous: bool = False,
        keep_hash: bool = False,
    ) -> SourceImage:
        self.require(org, "write")
        return self._store.delete_dynamic_metadata(
            org, ref, name, delete_previous=delete_previous, keep_hash=keep_hash
        )

    def set_mtime(self, org: str, ref: str, mtime: float) -> SourceImage:
        self.require(org, "write")
        return self._store.set_mtime(org, ref, mtime)

    # housekeeping
    def check(self, *, deep: bool = False) -> CheckReport:
        self._superuser("check the store")
        return self._store.check(deep=deep)
