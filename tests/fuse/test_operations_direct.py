"""The FUSE operations called directly, without a kernel: the errno of every error class and
the call shapes of libfuse 2 and libfuse 3."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import images
import pytest

from rokkafs.errors import RokkaFSError, all_error_classes
from rokkafs.fusefs import lookups
from rokkafs.fusefs.binding import load
from rokkafs.fusefs.lookups import LIST_AFTER_MISSES, LIST_WITHIN_SECONDS
from rokkafs.fusefs.operations import UTIME_NOW, UTIME_OMIT, build_operations
from rokkafs.provider import Provider
from rokkafs.provider.facestate import FaceState
from rokkafs.store.local import LocalStore

fuse = load()


@pytest.fixture
def ops(tmp_path: Path) -> Any:
    store = LocalStore(tmp_path / "data")
    store.create_organization("acme")
    operations = build_operations(fuse, Provider(store, FaceState(tmp_path / "data")), tmp_path)
    yield operations
    store.close()


def write_file(ops: Any, path: str, data: bytes, flags: int = os.O_WRONLY) -> None:
    fh = ops.create(path, 0o644, flags)
    ops.write(path, data, 0, fh)
    ops.flush(path, fh)
    ops.release(path, fh)


def read_all(ops: Any, path: str) -> bytes:
    fh = ops.open(path, os.O_RDONLY)
    try:
        return bytes(ops.read(path, 10_000_000, 0, fh))
    finally:
        ops.release(path, fh)


@pytest.mark.parametrize("error", all_error_classes(), ids=lambda c: c.__name__)
def test_every_error_class_leaves_as_its_errno(ops: Any, error: type[RokkaFSError]) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise error("injected")

    ops.paths.stat = fail
    with pytest.raises(fuse.FuseOSError) as raised:
        ops.getattr("/acme/x.png")
    assert raised.value.errno == error.errno


def test_unexpected_exceptions_become_eio(ops: Any) -> None:
    def fail(*args: object) -> None:
        raise ZeroDivisionError

    ops.paths.children = fail
    with pytest.raises(fuse.FuseOSError) as raised:
        ops.readdir("/acme", None)
    assert raised.value.errno == errno.EIO


def test_libfuse3_open_with_o_trunc(ops: Any) -> None:
    write_file(ops, "/acme/a.png", images.png(color=1))
    fh = ops.open("/acme/a.png", os.O_WRONLY | os.O_TRUNC)
    ops.write("/acme/a.png", images.png(color=2), 0, fh)
    ops.flush("/acme/a.png", fh)
    ops.release("/acme/a.png", fh)
    assert read_all(ops, "/acme/a.png") == images.png(color=2)


def test_libfuse2_truncate_without_handle_then_open(ops: Any) -> None:
    write_file(ops, "/acme/a.png", images.png(color=1))
    fh = ops.open("/acme/a.png", os.O_WRONLY)
    ops.truncate("/acme/a.png", 0)  # libfuse 3 ftruncate / libfuse 2 O_TRUNC: no fh
    ops.write("/acme/a.png", images.png(color=3), 0, fh)
    ops.flush("/acme/a.png", fh)
    ops.release("/acme/a.png", fh)
    assert ops.getattr("/acme/a.png")["st_size"] == len(images.png(color=3))


def test_copy_on_first_write_and_partial_writes(ops: Any) -> None:
    data = b"hello side file\n"
    write_file(ops, "/acme/.side", data)
    fh = ops.open("/acme/.side", os.O_RDWR)
    assert ops.read("/acme/.side", 5, 0, fh) == b"hello"
    ops.write("/acme/.side", b"HELLO", 0, fh)
    ops.flush("/acme/.side", fh)
    ops.release("/acme/.side", fh)
    assert read_all(ops, "/acme/.side") == b"HELLO side file\n"


def test_utimens_markers(ops: Any) -> None:
    write_file(ops, "/acme/a.png", images.png())
    ops.utimens("/acme/a.png", (0, 1_500_000_000 * 10**9))
    assert ops.getattr("/acme/a.png")["st_mtime"] == 1_500_000_000 * 10**9
    ops.utimens("/acme/a.png", (UTIME_NOW, UTIME_OMIT))
    assert ops.getattr("/acme/a.png")["st_mtime"] == 1_500_000_000 * 10**9
    ops.utimens("/acme/a.png", (UTIME_OMIT, UTIME_NOW))
    assert ops.getattr("/acme/a.png")["st_mtime"] > 1_700_000_000 * 10**9


def test_create_exclusive_and_touch(ops: Any) -> None:
    fh = ops.create("/acme/new.png", 0o644, os.O_WRONLY | os.O_CREAT)
    ops.flush("/acme/new.png", fh)
    ops.release("/acme/new.png", fh)
    assert ops.getattr("/acme/new.png")["st_size"] == 0
    assert ops.paths.store.list_source_images("acme").total == 0
    with pytest.raises(fuse.FuseOSError) as exists:
        ops.create("/acme/new.png", 0o644, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    assert exists.value.errno == errno.EEXIST


def test_xattr_rules(ops: Any) -> None:
    write_file(ops, "/acme/a.png", images.png())
    with pytest.raises(fuse.FuseOSError) as foreign:
        ops.getxattr("/acme/a.png", "security.selinux")
    assert foreign.value.errno == errno.ENOTSUP  # (no labels: ls -l stops asking)
    with pytest.raises(fuse.FuseOSError) as other_user_name:
        ops.getxattr("/acme/a.png", "user.other")
    assert other_user_name.value.errno == errno.ENODATA
    with pytest.raises(fuse.FuseOSError) as unsupported:
        ops.setxattr("/acme/a.png", "system.posix_acl_access", b"x", 0)
    assert unsupported.value.errno == errno.ENOTSUP
    ops.setxattr("/acme/a.png", "user.rokka.meta.title", b"x", 1)  # XATTR_CREATE
    with pytest.raises(fuse.FuseOSError) as created:
        ops.setxattr("/acme/a.png", "user.rokka.meta.title", b"y", 1)
    assert created.value.errno == errno.EEXIST
    with pytest.raises(fuse.FuseOSError) as replaced:
        ops.setxattr("/acme/a.png", "user.rokka.meta.other", b"y", 2)  # XATTR_REPLACE
    assert replaced.value.errno == errno.ENODATA
    with pytest.raises(fuse.FuseOSError) as invalid:
        ops.setxattr("/acme/a.png", "user.rokka.meta.int:n", b"many", 0)
    assert invalid.value.errno == errno.EINVAL
    keys = ops.getxattr("/acme/a.png", "user.rokka.keys").decode().split("\n")
    assert "user.rokka.hash" in keys and "user.rokka.meta.title" in keys
    ops.removexattr("/acme/a.png", "user.rokka.meta.title")
    assert ops.listxattr("/acme/a.png") == []


def test_dynamic_metadata_xattr_must_be_a_json_object(ops: Any) -> None:
    write_file(ops, "/acme/a.png", images.png())
    before = ops.getxattr("/acme/a.png", "user.rokka.hash")
    for value in (b"[1, 2]", b'"text"', b"{not json"):
        with pytest.raises(fuse.FuseOSError) as invalid:
            ops.setxattr("/acme/a.png", "user.rokka.dynamic.version", value, 0)
        assert invalid.value.errno == errno.EINVAL
    assert ops.getxattr("/acme/a.png", "user.rokka.hash") == before
    assert ops.listxattr("/acme/a.png") == []


def test_trash_and_organizations_cannot_be_removed(ops: Any) -> None:
    for path in ("/acme/.trash", "/acme"):
        with pytest.raises(fuse.FuseOSError) as refused:
            ops.rmdir(path)
        assert refused.value.errno == errno.EPERM


def test_read_only_mount(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "data")
    store.create_organization("acme")
    ops = build_operations(
        fuse, Provider(store, FaceState(tmp_path / "data")), tmp_path, read_only=True
    )
    with pytest.raises(fuse.FuseOSError) as refused:
        ops.create("/acme/x.png", 0o644, os.O_WRONLY)
    assert refused.value.errno == errno.EROFS
    assert ops.getattr("/acme")["st_mode"] & 0o777 == 0o555
    store.close()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
def test_disk_full_while_staging_fails_cleanly(
    ops: Any, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    import rokkafs.provider.uploads as uploads

    real = uploads.os.pwrite

    def full(fd: int, data: bytes, offset: int) -> int:
        if offset >= 1000:
            raise OSError(code, "No space left on device")
        return real(fd, data, offset)

    monkeypatch.setattr(uploads.os, "pwrite", full)
    data = images.png(size=(100, 100))
    fh = ops.create("/acme/full.png", 0o644, os.O_WRONLY)
    ops.write("/acme/full.png", data[:1000], 0, fh)
    with pytest.raises(fuse.FuseOSError) as failed:
        ops.write("/acme/full.png", data[1000:], 1000, fh)
    assert failed.value.errno == code
    with pytest.raises(fuse.FuseOSError) as closed:
        ops.flush("/acme/full.png", fh)
    assert closed.value.errno == code
    ops.release("/acme/full.png", fh)
    assert ops.paths.store.list_source_images("acme").total == 0
    with pytest.raises(fuse.FuseOSError):
        ops.getattr("/acme/full.png")
    leftovers = list(ops.paths.faces.blobs.staging.folder.iterdir())
    assert leftovers == []


def test_too_large_file_fails_with_efbig(tmp_path: Path) -> None:
    from rokkafs.store.config import StoreConfig

    store = LocalStore(tmp_path / "data", StoreConfig(max_upload_bytes=5000))
    store.create_organization("acme")
    ops = build_operations(fuse, Provider(store, FaceState(tmp_path / "data")), tmp_path)
    fh = ops.create("/acme/big.png", 0o644, os.O_WRONLY)
    with pytest.raises(fuse.FuseOSError) as failed:
        ops.write("/acme/big.png", bytes(6000), 0, fh)
    assert failed.value.errno == errno.EFBIG
    with pytest.raises(fuse.FuseOSError):
        ops.flush("/acme/big.png", fh)
    ops.release("/acme/big.png", fh)
    assert store.list_source_images("acme").total == 0
    store.close()


def test_a_listed_folder_answers_missing_names_from_memory(ops: Any) -> None:
    write_file(ops, "/acme/a.png", images.png())
    ops.unlink("/acme/a.png")
    write_file(ops, "/acme/b.png", images.png(color=3))
    ops.readdir("/acme")

    def unreachable(*args: object) -> None:
        raise OSError(errno.EIO, "the store must not be asked")

    looked_up = ops.paths.stat
    ops.paths.stat = unreachable  # a fault: any lookup now fails with EIO
    with pytest.raises(fuse.FuseOSError) as missing:
        ops.getattr("/acme/.b.png.Xy12Ab")  # rsync's temporary name, before it exists
    assert missing.value.errno == errno.ENOENT
    assert ops.getattr("/acme/b.png")["st_size"] > 0  # from the listing too
    ops.paths.stat = looked_up
    assert stat.S_ISDIR(ops.getattr("/acme/.trash")["st_mode"])  # reachable, never listed
    assert ops.getattr("/acme/.trash/a.png")["st_size"] > 0


def test_on_a_remote_store_a_lookup_lists_the_folder_once(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "data")
    store.create_organization("acme")
    provider = Provider(store, FaceState(tmp_path / "data"))
    for number in range(3):
        provider.commit(f"/acme/{number}.png", filled(provider, images.png(color=number)))
    ops = build_operations(fuse, provider, tmp_path, list_on_miss=True)
    assert ops.getattr("/acme/0.png")["st_size"] > 0  # lists /acme

    def unreachable(*args: object) -> None:
        raise OSError(errno.EIO, "no second trip to the store")

    ops.paths.stat = unreachable
    assert ops.getattr("/acme/2.png")["st_size"] > 0
    with pytest.raises(fuse.FuseOSError) as missing:
        ops.getattr("/acme/.2.png.Ab12Cd")
    assert missing.value.errno == errno.ENOENT
    ops.destroy("/")
    store.close()


@pytest.fixture
def listed(tmp_path: Path) -> Iterator[tuple[Any, list[str]]]:
    """Operations on a store with LIST_AFTER_MISSES + 8 images in /acme/f, and the folders
    they list."""
    store = LocalStore(tmp_path / "data")
    store.create_organization("acme")
    provider = Provider(store, FaceState(tmp_path / "data"))
    for number in range(LIST_AFTER_MISSES + 8):
        provider.commit(f"/acme/f/{number}.png", filled(provider, images.png(color=number)))
    ops = build_operations(fuse, provider, tmp_path)
    listings: list[str] = []
    children = ops.paths.children
    ops.paths.children = lambda path: listings.append(path) or children(path)
    yield ops, listings
    ops.destroy("/")
    store.close()


def test_lookups_that_keep_missing_in_a_folder_list_it_once(
    listed: tuple[Any, list[str]],
) -> None:
    ops, listings = listed
    for number in range(LIST_AFTER_MISSES - 1):  # a few lookups: each asks the store
        assert ops.getattr(f"/acme/f/{number}.png")["st_size"] > 0
    assert listings == []

    def unreachable(*args: object) -> None:
        raise OSError(errno.EIO, "the store must not be asked")

    assert ops.getattr(f"/acme/f/{LIST_AFTER_MISSES - 1}.png")["st_size"] > 0  # lists /acme/f
    assert listings == ["/acme/f"]
    ops.paths.stat = unreachable  # a fault: any lookup now fails with EIO
    for number in range(LIST_AFTER_MISSES, LIST_AFTER_MISSES + 8):
        assert ops.getattr(f"/acme/f/{number}.png")["st_size"] > 0
    with pytest.raises(fuse.FuseOSError) as missing:
        ops.getattr("/acme/f/none.png")
    assert missing.value.errno == errno.ENOENT
    assert listings == ["/acme/f"]


def test_lookups_missing_now_and_then_never_list_the_folder(
    listed: tuple[Any, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    ops, listings = listed
    clock = [1000.0]
    monkeypatch.setattr(lookups.time, "monotonic", lambda: clock[0])
    for number in range(LIST_AFTER_MISSES + 8):
        clock[0] += LIST_WITHIN_SECONDS / 8  # (40 misses over 10 s: never a burst)
        assert ops.getattr(f"/acme/f/{number}.png")["st_size"] > 0
    assert listings == []


def filled(provider: Provider, data: bytes) -> Any:
    upload = provider.new_upload()
    upload.write(data)
    return upload


def test_a_read_after_another_writer_replaced_the_file_gets_the_new_bytes(ops: Any) -> None:
    write_file(ops, "/acme/a.png", images.png(color=1))
    ops.getattr("/acme/a.png")  # the mount now knows the first image
    newer = images.png(color=2)
    ops.paths.commit("/acme/a.png", filled(ops.paths, newer))  # another face replaces it
    assert read_all(ops, "/acme/a.png") == newer


def test_a_new_folder_is_known_empty_and_keeps_its_listing_up_to_date(ops: Any) -> None:
    ops.mkdir("/acme/new", 0o755)
    ops.utimens("/acme/new", (0, 1_600_000_000 * 10**9))  # rsync sets folder times too
    looked_up = ops.paths.stat

    def unreachable(*args: object) -> None:
        raise OSError(errno.EIO, "the store must not be asked")

    ops.paths.stat = unreachable  # lookups in the new folder come from memory
    for name in ("0.png", ".0.png.Ab12Cd"):  # rsync's two lookups per file
        with pytest.raises(fuse.FuseOSError) as missing:
            ops.getattr(f"/acme/new/{name}")
        assert missing.value.errno == errno.ENOENT
    ops.paths.stat = looked_up
    write_file(ops, "/acme/new/.0.png.Ab12Cd", images.png())
    ops.rename("/acme/new/.0.png.Ab12Cd", "/acme/new/0.png")
    ops.paths.stat = unreachable
    assert ops.getattr("/acme/new/0.png")["st_size"] > 0
    assert [e[0] for e in ops.readdir("/acme/new")[2:]] == ["0.png"]
    with pytest.raises(fuse.FuseOSError) as missing:
        ops.getattr("/acme/new/1.png")
    assert missing.value.errno == errno.ENOENT


def test_links_and_device_files_are_refused_as_not_permitted(ops: Any) -> None:
    for refuse in (
        lambda: ops.link("/acme/b.png", "/acme/a.png"),
        lambda: ops.symlink("/acme/b.png", "/acme/a.png"),
        lambda: ops.mknod("/acme/fifo", 0o10644, 0),
    ):
        with pytest.raises(fuse.FuseOSError) as refused:
            refuse()
        assert refused.value.errno == errno.EPERM


def test_a_new_file_the_kernel_just_looked_up_is_committed_without_looking_again(
    ops: Any,
) -> None:
    with pytest.raises(fuse.FuseOSError):
        ops.getattr("/acme/new.png")  # (the kernel's lookup before create: a miss, cached)
    reader = ops.paths.writer.reader

    def unreachable(*args: object) -> None:
        raise OSError(errno.EIO, "the store must not be asked")

    reader.stat_location = unreachable  # a fault: a second lookup of the path fails
    write_file(ops, "/acme/new.png", images.png(color=5))
    del reader.stat_location
    assert read_all(ops, "/acme/new.png") == images.png(color=5)


def test_a_listing_shows_what_this_mount_just_wrote_and_deleted(ops: Any) -> None:
    write_file(ops, "/acme/a.png", images.png(color=1))
    ops.paths.commit("/acme/deep/er/b.png", filled(ops.paths, images.png(color=2)))
    for folder in ("/acme", "/acme/deep", "/acme/.trash"):
        ops.readdir(folder)  # (all listed, hence cached)
    bigger = images.png(color=3, size=(64, 64))
    write_file(ops, "/acme/a.png", bigger)  # (an overwrite: the old image goes to .trash)
    ops.utimens("/acme/a.png", (0, 1_600_000_000 * 10**9))
    listed = {e[0]: e[1] for e in ops.readdir("/acme")[2:]}
    assert listed["a.png"]["st_size"] == len(bigger)  # (readdirplus hands these on)
    assert listed["a.png"]["st_mtime"] == 1_600_000_000 * 10**9
    assert ops.readdir("/acme/.trash")[2:], "the replaced image shows in .trash"
    ops.unlink("/acme/deep/er/b.png")  # (the last image: both folders go)
    assert "deep" not in [e[0] for e in ops.readdir("/acme")[2:]]
    with pytest.raises(fuse.FuseOSError) as missing:
        ops.getattr("/acme/deep")
    assert missing.value.errno == errno.ENOENT
