"""The ``rokkafs`` command line.

Exit codes: 0 success, 1 a rokkafs error (one line on stderr; ``--debug`` shows the
traceback), 2 a usage error, 3 a consistency check that found problems.
"""

from __future__ import annotations

import sys

import click

from rokkafs.cli import access, bulk, faces, images  # noqa: F401  (they register their commands)
from rokkafs.cli.base import EXIT_ERROR, cli
from rokkafs.errors import RokkaFSError

__all__ = ["cli", "main"]


def main() -> None:
    """Entry point of the ``rokkafs`` console script."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_ERROR)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except RokkaFSError as exc:
        if "--debug" in sys.argv:
            raise
        click.echo(f"rokkafs: {exc.message}", err=True)
        sys.exit(EXIT_ERROR)
