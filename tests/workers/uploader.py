"""Child process of the two-process test: uploads one shared and ten own images."""

from __future__ import annotations

import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import images

from rokkafs.store.local import LocalStore


def main(data: str, me: int) -> None:
    store = LocalStore(data)
    for number in range(10):
        shared = io.BytesIO(images.png(color=1))
        store.create_source_image("acme", shared, name="shared.png")
        own = io.BytesIO(images.png(color=100 + me * 10 + number))
        store.create_source_image("acme", own, name=f"p{me}-{number}.png")
    store.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
