"""The ``rokkafs`` command line.

Exit codes: 0 success, 1 a rokkafs error (one line on stderr; ``--debug`` shows the
traceback), 2 a usage error, 3 a consistency check that found problems.
"""

from __future__ import annotations

import sys

import click

from rokkafs.cli import (  # noqa: F401  (they register their commands)
    access,
    bulk,
    faces,
    images,
    migrate,
)
from rokkafs.cli.base import EXIT_ERROR, cli
from rokkafs.errors import RokkaFSError

__all__ = ["cli", "main"]

_GLOBAL_OPTIONS = ("--data", "--index", "--blobs", "--config", "--debug", "--log-level")


def _shown(exc: click.ClickException) -> SystemExit:
    exc.show()
    return SystemExit(exc.exit_code)


def main() -> None:
    """Entry point of the ``rokkafs`` console script."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_ERROR)
    except click.NoSuchOption as exc:
        if exc.option_name not in _GLOBAL_OPTIONS:
            raise _shown(exc) from None
        command = exc.ctx.info_name if exc.ctx else "COMMAND"
        hint = f"{exc.option_name} goes before the command: rokkafs {exc.option_name} … {command} …"
        raise _shown(click.UsageError(hint, exc.ctx)) from None
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except RokkaFSError as exc:
        if "--debug" in sys.argv:
            raise
        click.echo(f"rokkafs: {exc.message}", err=True)
        sys.exit(EXIT_ERROR)
