"""``python -m rokkafs.cli``."""

from rokkafs.cli import main

main()
