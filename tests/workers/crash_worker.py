"""Child process of the crash test: uploads and changes images in a loop until killed."""

from __future__ import annotations

import contextlib
import io
import random
import sys
from datetime import timedelta

from PIL import Image

from rokkafs.errors import AlreadyExists
from rokkafs.store.local import LocalStore


def main(data: str, seed: int) -> None:
    store = LocalStore(data)
    for org in ("acme", "other"):
        with contextlib.suppress(AlreadyExists):
            store.create_organization(org)
    rng = random.Random(seed)
    print("ready", flush=True)
    while True:
        side = rng.choice([16, 200, 700])
        image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        out = io.BytesIO()
        image.save(out, "PNG", compress_level=0)
        out.seek(0)
        made = store.create_source_image("acme", out, name=f"f{rng.random()}.png")
        action = rng.random()  # (any error ends the worker, and the test sees it)
        if action < 0.3:
            store.copy_source_image("acme", made.hash, "other")
        elif action < 0.5:
            store.delete_source_image("acme", made.hash)
        elif action < 0.6:
            store.purge_trash(older_than=timedelta(0))
        elif action < 0.8:
            store.patch_user_metadata("acme", made.hash, {"int:n": rng.randrange(100)})
        else:
            version = {"text": str(rng.random())}
            store.set_dynamic_metadata("acme", made.hash, "version", version)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
