"""Real tools on a real mount, each checked against the store afterwards."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import tarfile
from pathlib import Path

import images
import pytest

from rokkafs.rokka.search import SearchQuery
from rokkafs.store.local import LocalStore

pytestmark = pytest.mark.timeout(120)


def live(store: LocalStore, org: str = "acme") -> dict[str, str]:
    items = store.list_source_images(org, SearchQuery(limit=500)).items
    return {i.name: i.hash for i in items}


def trashed(store: LocalStore, org: str = "acme") -> list[str]:
    return sorted(i.name for i in store.list_source_images(org, SearchQuery(deleted=True)).items)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    for i in range(3):
        (source / f"p{i}.png").write_bytes(images.png(color=30 + i))
    (source / "sub" / "d.jpg").write_bytes(images.jpeg(color=5))
    os.utime(source / "p0.png", (1_577_934_245, 1_577_934_245))
    return source


def test_cp_and_read_back(mounted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = images.png(color=1)
    (tmp_path / "a.png").write_bytes(data)
    assert run("cp", str(tmp_path / "a.png"), str(mounted.root / "acme" / "a.png")).returncode == 0
    image = mounted.store.get_source_image("acme", live(mounted.store)["a.png"])
    assert image.binary_hash == hashlib.sha1(data).hexdigest()
    assert (mounted.root / "acme" / "a.png").read_bytes() == data
    assert sorted(os.listdir(mounted.root)) == ["acme", "other"]


def test_rsync_twice_transfers_nothing_the_second_time(mounted, tree: Path) -> None:  # type: ignore[no-untyped-def]
    target = f"{mounted.root}/acme/photos/"
    first = run("rsync", "-a", f"{tree}/", target)
    assert first.returncode == 0, first.stderr
    before = live(mounted.store)
    assert sorted(before) == ["photos/p0.png", "photos/p1.png", "photos/p2.png", "photos/sub/d.jpg"]
    image = mounted.store.get_source_image("acme", before["photos/p0.png"])
    assert int(image.mtime) == 1_577_934_245
    second = run("rsync", "-ai", f"{tree}/", target)
    assert second.returncode == 0, second.stderr
    assert not [line for line in second.stdout.splitlines() if line.startswith(">f")], second.stdout
    assert live(mounted.store) == before and trashed(mounted.store) == []


def test_rsync_delete_leaves_the_trash_alone(mounted, tree: Path) -> None:  # type: ignore[no-untyped-def]
    target = mounted.root / "acme"
    run("rsync", "-a", f"{tree}/", f"{target}/")
    os.unlink(target / "p1.png")
    assert trashed(mounted.store) == ["p1.png"]
    (tree / "p2.png").unlink()
    result = run("rsync", "-a", "--delete", f"{tree}/", f"{target}/")
    assert result.returncode == 0, result.stderr
    # p1 came back from the source as a new image (the trashed one stays), p2 went to the trash
    assert sorted(live(mounted.store)) == ["p0.png", "p1.png", "sub/d.jpg"]
    assert trashed(mounted.store) == ["p1.png", "p2.png"]
    assert sorted(os.listdir(target / ".trash")) == ["p1.png", "p2.png"]
    with pytest.raises(PermissionError):
        os.unlink(target / ".trash" / "p2.png")
    with pytest.raises(PermissionError):
        os.rmdir(target / ".trash")


def test_cp_a_carries_metadata_between_organizations(mounted) -> None:  # type: ignore[no-untyped-def]
    source = mounted.root / "acme" / "meta.png"
    source.write_bytes(images.png(color=9))
    os.setxattr(source, "user.rokka.meta.int:views", b"12")
    os.setxattr(source, "user.rokka.meta.title", b"A cat")
    assert sorted(os.listxattr(source)) == ["user.rokka.meta.int:views", "user.rokka.meta.title"]
    result = run("cp", "-a", str(source), str(mounted.root / "other" / "meta.png"))
    assert result.returncode == 0, result.stderr
    copied = mounted.store.get_source_image("other", live(mounted.store, "other")["meta.png"])
    assert copied.user_metadata == {"int:views": 12, "title": "A cat"}
    assert os.getxattr(source, "user.rokka.hash").decode() == live(mounted.store)["meta.png"]
    with pytest.raises(OSError) as missing:
        os.getxattr(source, "user.rokka.meta.nothing")
    assert missing.value.errno == errno.ENODATA
    with pytest.raises(OSError) as read_only:
        os.setxattr(source, "user.rokka.hash", b"x")
    assert read_only.value.errno == errno.EPERM
    with pytest.raises(OSError) as foreign:
        os.setxattr(source, "trusted.x", b"x")
    assert foreign.value.errno in (errno.ENOTSUP, errno.EPERM)


def test_locked_image_refuses_rm_and_metadata(mounted) -> None:  # type: ignore[no-untyped-def]
    path = mounted.root / "acme" / "locked.png"
    path.write_bytes(images.png(color=2))
    os.setxattr(path, "user.rokka.locked", b"true")
    with pytest.raises(PermissionError):
        os.unlink(path)
    with pytest.raises(PermissionError):
        os.setxattr(path, "user.rokka.meta.title", b"nope")
    assert set(live(mounted.store)) == {"locked.png"}


def test_mv_within_and_across_organizations(mounted) -> None:  # type: ignore[no-untyped-def]
    path = mounted.root / "acme" / "a.png"
    path.write_bytes(images.png(color=3))
    image_hash = live(mounted.store)["a.png"]
    os.rename(path, mounted.root / "acme" / "b.png")
    assert live(mounted.store) == {"b.png": image_hash}
    result = run("mv", str(mounted.root / "acme" / "b.png"), str(mounted.root / "other" / "c.png"))
    assert result.returncode == 0, result.stderr
    assert live(mounted.store) == {} and live(mounted.store, "other") == {"c.png": image_hash}
    os.rename(mounted.root / "acme" / ".trash" / "b.png", mounted.root / "acme" / "back.png")
    assert live(mounted.store) == {"back.png": image_hash}


def test_tar_x_keeps_mtimes(mounted, tree: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive = tmp_path / "a.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(tree, arcname="album")
    result = run("tar", "-xf", str(archive), "-C", str(mounted.root / "acme"))
    assert result.returncode == 0, result.stderr
    image = mounted.store.get_source_image("acme", live(mounted.store)["album/p0.png"])
    assert int(image.mtime) == 1_577_934_245


def test_sed_and_python_atomic_writes_on_a_dot_file(mounted) -> None:  # type: ignore[no-untyped-def]
    """``.notes`` is no side-file name: a text file (on the allow-list) like any other, kept
    through sed's and Python's write-then-rename, with no temporary left behind."""
    notes = mounted.root / "acme" / ".notes"
    notes.write_text("hello world\n")
    assert run("sed", "-i", "s/world/there/", str(notes)).returncode == 0
    assert notes.read_text() == "hello there\n"
    temporary = mounted.root / "acme" / ".notes.tmp"
    with temporary.open("w") as handle:
        handle.write("replaced\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, notes)
    assert notes.read_text() == "replaced\n"
    final = mounted.store.get_source_image("acme", live(mounted.store)[".notes"])
    assert list(live(mounted.store)) == [".notes"] and final.mimetype == "text/plain"
    assert final.binary_hash == hashlib.sha1(b"replaced\n").hexdigest()
    assert os.listdir(mounted.root / "acme") == [".notes"]


def test_refusals_fail_in_close_with_their_own_errno_and_a_logged_reason(  # type: ignore[no-untyped-def]
    mounted, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.png"
    images.write_huge_png(huge)
    refusals = {
        "blob.bin": (bytes(range(256)) * 16, errno.EMEDIUMTYPE),
        "cut.jpg": (images.jpeg(size=(300, 300))[:400], errno.EINVAL),
        "huge.png": (huge.read_bytes(), errno.EFBIG),
    }
    for name, (data, expected) in refusals.items():
        target = mounted.root / "acme" / name
        handle = open(target, "wb")  # noqa: SIM115 (the close itself is tested)
        handle.write(data)
        with pytest.raises(OSError) as refused:
            handle.close()
        assert refused.value.errno == expected, name
        assert not target.exists() and live(mounted.store) == {}
    log = (mounted.root.parent / "mount.log").read_text()
    assert log.count("WARNING") >= 3 and "refused" in log, log


def test_statfs_and_modes(mounted) -> None:  # type: ignore[no-untyped-def]
    stats, disk = os.statvfs(mounted.root), os.statvfs(mounted.data)
    assert stats.f_blocks > 0 and stats.f_bavail > 0
    assert stats.f_files == disk.f_files  # (df -i: the data disk's numbers, none made up)
    assert abs(stats.f_ffree - disk.f_ffree) < 1000
    path = mounted.root / "acme" / "m.png"
    path.write_bytes(images.png())
    os.chmod(path, 0o600)
    os.chown(path, os.getuid(), os.getgid())
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_eight_writers_of_one_path_through_the_mount_and_a_server(  # type: ignore[no-untyped-def]
    mounted, tmp_path: Path
) -> None:
    """Four writers through the mount (``cp`` to a name of their own, then ``mv`` onto the
    file, as editors and rsync replace files) and four PUTs through a server process on the
    same data directory, all at once onto one existing file: one file, the rest in the trash,
    no errors."""
    import threading

    import httpx
    from support import serving

    sources = []
    for color in range(8):
        source = tmp_path / f"w{color}.png"
        source.write_bytes(images.png(color=color))
        sources.append(source)
    target = mounted.root / "acme" / "same.png"
    target.write_bytes(images.png(color=99))  # (cp creates a missing file with O_EXCL)
    results: list[object] = []
    start = threading.Barrier(8)
    with serving(mounted.data, before=mounted.options) as (url, key, _):

        def copy(source: Path) -> None:
            own = target.with_name(f"incoming-{source.name}")
            start.wait()
            done = run("sh", "-c", f"cp '{source}' '{own}' && mv -f '{own}' '{target}'")
            results.append(0 if done.returncode == 0 else done.stderr)

        def put(source: Path) -> None:
            with httpx.Client(auth=("me", key), timeout=60) as client:
                start.wait()
                answer = client.put(f"{url}/dav/acme/same.png", content=source.read_bytes())
                results.append(answer.status_code)

        threads = [
            threading.Thread(target=copy if i % 2 else put, args=(source,))
            for i, source in enumerate(sources)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert all(status in (0, 201, 204) for status in results), results
    assert list(live(mounted.store)) == ["same.png"]
    assert trashed(mounted.store) == ["same.png"] * 8
    # (read from the store: the mount may show its own last view for its cache time)
    shown = mounted.store.get_source_image("acme", live(mounted.store)["same.png"]).binary_hash
    assert shown in {hashlib.sha1(s.read_bytes()).hexdigest() for s in sources}
    assert os.listdir(mounted.root / "acme") == ["same.png"]


def test_reverting_a_file_through_the_mount(mounted) -> None:  # type: ignore[no-untyped-def]
    v1, v2 = images.png(color=40), images.png(color=41)
    target = mounted.root / "acme" / "edit.png"
    for data in (v1, v2, v1):
        target.write_bytes(data)
    assert os.listdir(mounted.root / "acme") == ["edit.png"]
    assert target.read_bytes() == v1
    trashed_images = mounted.store.list_source_images("acme", SearchQuery(deleted=True)).items
    assert sorted(i.binary_hash for i in trashed_images) == sorted(
        hashlib.sha1(v).hexdigest() for v in (v1, v2)
    )


def test_names_are_one_spelling_and_at_most_255_bytes(mounted) -> None:  # type: ignore[no-untyped-def]
    import unicodedata

    folder = mounted.root / "acme"
    nfc, nfd = "Caf\u00e9.png", unicodedata.normalize("NFD", "Caf\u00e9.png")
    (folder / nfc).write_bytes(images.png(color=70))
    assert os.listdir(folder) == [nfc]  # (the listing is cached now)
    assert (folder / nfd).read_bytes() == images.png(color=70)  # an NFD lookup finds it
    (folder / unicodedata.normalize("NFD", "Cr\u00e8me.png")).write_bytes(images.png(color=71))
    assert sorted(os.listdir(folder)) == [nfc, "Cr\u00e8me.png"]
    assert sorted(live(mounted.store)) == [nfc, "Cr\u00e8me.png"]
    with pytest.raises(OSError) as too_long:
        (folder / ("x" * 252 + ".png")).write_bytes(images.png(color=72))
    assert too_long.value.errno == errno.ENAMETOOLONG
    with pytest.raises(OSError) as too_long_folder:
        (folder / ("\u00e9" * 128)).mkdir()  # 256 bytes in UTF-8
    assert too_long_folder.value.errno == errno.ENAMETOOLONG
    assert sorted(live(mounted.store)) == [nfc, "Cr\u00e8me.png"]


def test_mounting_a_mounted_folder_again_is_one_line(mounted) -> None:  # type: ignore[no-untyped-def]
    import sys

    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "rokkafs.cli",
            "--data",
            str(mounted.data),
            *mounted.options,
            "mount",
            str(mounted.root),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert again.returncode == 1
    assert (
        again.stderr.strip()
        == f"Error: {mounted.root} is mounted already (rokkafs umount it first)"
    )
    assert os.listdir(mounted.root)  # the first mount still serves


def test_rsync_twice_reports_no_folder_either(mounted, tree: Path) -> None:  # type: ignore[no-untyped-def]
    """Folder modification times are kept (``rsync -a`` sets them), so a second run has
    nothing at all to report, folders included."""
    target = mounted.root / "acme" / "copy"
    os.utime(tree / "sub", (1_600_000_000, 1_600_000_000))
    first = run("rsync", "-a", f"{tree}/", f"{target}/")
    assert first.returncode == 0, first.stderr
    assert int((target / "sub").stat().st_mtime) == 1_600_000_000
    second = run("rsync", "-ai", f"{tree}/", f"{target}/")
    assert second.returncode == 0 and second.stdout == "", second.stdout


def test_the_mount_starts_without_warnings(mounted) -> None:  # type: ignore[no-untyped-def]
    assert sorted(os.listdir(mounted.root)) == ["acme", "other"]
    log = (mounted.root.parent / "mount.log").read_text()
    assert "Ignoring invalid" not in log and "WARNING" not in log, log


def test_ls_l_asks_for_labels_and_acls_once_not_per_file(mounted, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``ls -l`` probes every file for an SELinux label and an ACL; rokkafs has neither, and
    says so with ENOTSUP, which ls remembers for the whole filesystem (ENODATA would make it
    ask again for each of the files: two round trips into the mount per file)."""
    folder = mounted.root / "acme" / "many"
    folder.mkdir()
    for i in range(12):
        (folder / f"{i}.png").write_bytes(images.png(color=i))
    trace = tmp_path / "ls.strace"
    listing = run(
        "strace",
        "-f",
        "-o",
        str(trace),
        "-e",
        "trace=getxattr,lgetxattr,listxattr,llistxattr",
        "ls",
        "-l",
        str(folder),
    )
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.count(".png") == 12
    probes = [line for line in trace.read_text().splitlines() if str(folder) in line]
    assert 0 < len(probes) <= 4, probes  # before: 24 (security.selinux + posix_acl_access each)
    for name in ("security.selinux", "system.posix_acl_access", "trusted.x"):
        with pytest.raises(OSError) as unsupported:
            os.getxattr(folder / "0.png", name)
        assert unsupported.value.errno == errno.ENOTSUP, name
    with pytest.raises(OSError) as missing:
        os.getxattr(folder / "0.png", "user.other")
    assert missing.value.errno == errno.ENODATA
