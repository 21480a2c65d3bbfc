"""Moving and copying through the path model: renames, restores out of ``.trash``, copies
between organizations as native store copies (no bytes re-sent)."""

from __future__ import annotations

from collections.abc import Mapping

from rokkafs.errors import AlreadyExists, InvalidInput, NotFound, NotPermitted
from rokkafs.model import SourceImage
from rokkafs.provider.nodes import Node
from rokkafs.provider.paths import Location, check_name, is_side_name, parse_path
from rokkafs.provider.reading import Reader
from rokkafs.provider.writing import Writer
from rokkafs.staging import Staged, read_chunks, stage_chunks
from rokkafs.store.records import first_unused_variant

__all__ = ["Mover"]


class Mover:
    """Moving and copying through the path model (paths resolved by ``reader``, targets
    prepared and written by ``writer``)."""

    def __init__(self, reader: Reader, writer: Writer) -> None:
        self.reader, self.writer = reader, writer
        self.store, self.faces = reader.store, reader.faces

    def _prepare_target(
        self, source: Node, target: Location, overwrite: bool, *, clear: bool = True
    ) -> None:
        existing = self.writer.existing(target)
        if existing is None:
            return
        same = (
            existing.image is not None
            and source.image is not None
            and existing.image.hash == source.image.hash
            and existing.org == source.org
        )
        if same:
            return
        if not overwrite:
            raise AlreadyExists(f"{target.name} exists")
        if existing.is_dir:
            if source.is_dir:
                return  # folders merge (RFC 4918: COPY onto a collection with Overwrite: T)
            raise AlreadyExists(f"{target.name} is a folder")
        if clear or existing.kind == "side":
            self.writer.clear_for(target)

    # ----------------------------------------------------------------- moving

    def move(self, src: str, dst: str, *, overwrite: bool = True) -> Node:
        """Rename or move a file or folder; moving out of ``.trash`` restores.

        Raises:
            NotPermitted: into ``.trash`` or onto an organization.
            AlreadyExists: the target exists and not ``overwrite``.
            Locked: replacing a locked image.
        """
        source_location = parse_path(src)
        check_name(source_location)
        source = self.reader.stat_location(source_location)
        target = self.writer.live_target(dst)
        # a side file becoming an image, or an image renamed inside its organization, replaces
        # the image at the target in the store's one step (concurrent moves serialize)
        to_image = not is_side_name(target.basename)
        one_step = to_image and (
            (source.kind == "side" and source.size > 0)
            or (source.image is not None and not source.in_trash and source.org == target.org)
        )
        self._prepare_target(source, target, overwrite, clear=not one_step)
        assert source_location.org is not None and target.org is not None
        if source.kind == "side":
            self._move_side(source_location, target)
        elif source.image is not None:
            self._move_image(source.image, target)
        else:
            self._move_folder(source_location, target)
        return self.reader.stat_location(target)

    def _move_side(self, source: Location, target: Location) -> None:
        assert source.org is not None and target.org is not None
        side = self.faces.get_file(source.org, source.name)
        assert side is not None
        if is_side_name(target.basename) or side.size == 0:
            self.faces.move_file(source.org, source.name, target.org, target.name)
            return
        # a temporary file renamed to its real name (rsync, editors): now it is an image,
        # handed to the store as a link to the side file's bytes (no copy)
        assert side.blob_id is not None
        linked = self.faces.blobs.stage_copy(side.blob_id)
        staged = Staged(linked, side.blob_id, side.blob_id, side.size)
        try:
            self.writer.commit_at(target, staged, side.mtime)
        finally:
            staged.path.unlink(missing_ok=True)
        self.faces.delete_file(source.org, source.name)

    def _move_image(self, image: SourceImage, target: Location) -> None:
        assert target.org is not None
        if is_side_name(target.basename):
            self._image_to_side_file(image, target)
            return
        org = image.organization
        if image.deleted:
            if target.org != org:
                raise NotPermitted("restore an image into its own organization first")
            image = self.store.restore_source_image(org, image.hash)
        if target.org == org:
            if image.name != target.name:
                self.store.move_source_image(org, image.hash, target.name)
            return
        self._copy_image(image, target)
        self.store.delete_source_image(org, image.hash)

    def _image_to_side_file(self, image: SourceImage, target: Location) -> None:
        """An image renamed to a side-file name (``sed -i`` renames its temporary file over
        ``.notes``): its bytes become the side file, the image goes to the trash."""
        assert target.org is not None
        if image.deleted:
            raise NotPermitted("restore the image before renaming it")
        with self.store.open_source_image(image.organization, image.hash) as data:
            limit = self.store.config.max_upload_bytes
            staged = stage_chunks(self.faces.blobs, read_chunks(data), max_bytes=limit)
        self.faces.put_file(target.org, target.name, staged, image.mtime)
        self.store.delete_source_image(image.organization, image.hash)

    def _move_folder(self, source: Location, target: Location) -> None:
        assert source.org is not None and target.org is not None
        if source.in_trash:
            raise NotPermitted("restore images from .trash one by one")
        inside = target.name == source.name or target.name.startswith(source.name + "/")
        if inside and target.org == source.org:
            raise InvalidInput("a folder cannot be moved into itself")
        for image in list(self.reader.images_below(source)):
            new_name = target.name + image.name[len(source.name) :]
            self._move_image(image, Location(target.org, new_name))
        self.faces.move_prefix(source.org, source.name, target.name, target.org)
        self.faces.add_folder(target.org, target.name)

    # ----------------------------------------------------------------- copying

    def copy(self, src: str, dst: str, *, overwrite: bool = True) -> Node:
        """Copy a file or folder. Across organizations images are native store copies;
        inside one organization a copy is a second image of the same bytes (a ``version``
        variant named after its new path).

        Raises:
            NotPermitted: into ``.trash``.
            AlreadyExists: the target exists and not ``overwrite``.
        """
        source_location = parse_path(src)
        check_name(source_location)
        source = self.reader.stat_location(source_location)
        target = self.writer.live_target(dst)
        self._prepare_target(source, target, overwrite)
        if source.kind == "side":
            assert source.org is not None and target.org is not None
            side = self.faces.get_file(source.org, source.rel)
            assert side is not None
            self.faces.copy_file(side, target.org, target.name, side.mtime)
        elif source.image is not None:
            self._copy_image(source.image, target)
        else:
            self._copy_folder(source_location, target)
        return self.reader.stat_location(target)

    def _copy_image(self, image: SourceImage, target: Location) -> None:
        assert target.org is not None
        if image.deleted:
            raise NotPermitted("restore the image before copying it")
        if target.org == image.organization:
            self._second_image(image, target.name, image.user_metadata)
            return
        try:
            there = self.store.get_source_image(target.org, image.hash)
        except NotFound:
            there = None
        if there is not None and there.name != target.name:
            # the hash is shown under another name there: the copy is a second image
            self._second_image(there, target.name, image.user_metadata)
            return
        self.store.copy_source_image(image.organization, image.hash, target.org)
        if image.name != target.name:
            self.store.rename_source_image(target.org, image.hash, target.name)

    def _second_image(
        self, image: SourceImage, name: str, user_metadata: Mapping[str, object]
    ) -> SourceImage:
        """One more image of the same bytes in the image's organization, named ``name``: a
        ``version`` variant no live image uses yet, with the given user metadata."""
        org = image.organization
        twins = self.store.find_by_binary_hash(org, image.binary_hash)
        base = {k: v for k, v in image.dynamic_metadata.items() if k != "version"}
        used = [t.dynamic_metadata for t in twins]
        version = first_unused_variant(used, base, name, plain_ok=False)["version"]
        assert isinstance(version, dict)
        variant = self.store.set_dynamic_metadata(org, image.hash, "version", version)
        variant = self.store.rename_source_image(org, variant.hash, name)
        if dict(variant.user_metadata) != dict(user_metadata):
            variant = self.store.replace_user_metadata(org, variant.hash, user_metadata)
        return variant

    def _copy_folder(self, source: Location, target: Location) -> None:
        assert source.org is not None and target.org is not None
        images = list(self.reader.images_below(source))
        if target.org != source.org:
            for first in range(0, len(images), 100):
                batch = [i.hash for i in images[first : first + 100]]
                self.store.copy_source_images(source.org, batch, target.org)
            for image in images:
                new_name = target.name + image.name[len(source.name) :]
                if new_name != image.name:
                    self.store.rename_source_image(target.org, image.hash, new_name)
        else:
            for image in images:
                self._copy_image(
                    image, Location(target.org, target.name + image.name[len(source.name) :])
                )
        for side in self.faces.files_below(source.org, source.name + "/"):
            new_path = target.name + side.path[len(source.name) :]
            self.faces.copy_file(side, target.org, new_path, side.mtime)
        self.faces.add_folder(target.org, target.name)
