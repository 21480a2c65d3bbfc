"""The write staging of both faces: hashed while the bytes arrive, on a thread of its own for
big files, correct whatever the order of writes."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from rokkafs.provider.facestate import FaceState
from rokkafs.provider.uploads import INLINE_BYTES, Upload

PIECE = 256 << 10


def pieces(total: int) -> list[bytes]:
    data = os.urandom(PIECE)
    return [data[i % 7 :] + data[: i % 7] for i in range(total // PIECE)]


def test_a_big_file_is_hashed_while_it_arrives(tmp_path: Path) -> None:
    faces = FaceState(tmp_path)
    parts = pieces(3 * INLINE_BYTES)  # well past the inline part: the hashing thread runs
    upload = Upload(faces, max_bytes=1 << 40)
    for part in parts:
        upload.write(part)
    staged = upload.finish()
    expected = hashlib.sha1(b"".join(parts)).hexdigest()
    assert staged.binary_hash == expected and staged.size == 3 * INLINE_BYTES
    assert hashlib.sha1(staged.path.read_bytes()).hexdigest() == expected


def test_truncate_and_out_of_order_writes_still_hash_right(tmp_path: Path) -> None:
    faces = FaceState(tmp_path)
    parts = pieces(2 * INLINE_BYTES)
    upload = Upload(faces, max_bytes=1 << 40)
    for part in parts:
        upload.write(part)
    upload.truncate(0)  # starts over, also the hash
    for part in parts[:4]:
        upload.write(part)
    assert upload.finish().binary_hash == hashlib.sha1(b"".join(parts[:4])).hexdigest()
    seeking = Upload(faces, max_bytes=1 << 40)
    for number, part in enumerate(parts):
        seeking.write(part)
        if number == len(parts) // 2:
            seeking.pwrite(b"X", 10)  # a client seeking back: hashed again from the file
    content = bytearray(b"".join(parts))
    content[10:11] = b"X"
    assert seeking.finish().binary_hash == hashlib.sha1(bytes(content)).hexdigest()


def test_a_discarded_upload_leaves_no_file_and_no_thread(tmp_path: Path) -> None:
    faces = FaceState(tmp_path)
    before = threading.active_count()
    upload = Upload(faces, max_bytes=1 << 40)
    for part in pieces(2 * INLINE_BYTES):
        upload.write(part)
    assert threading.active_count() == before + 1
    upload.discard()
    assert threading.active_count() == before and not upload.path.exists()
