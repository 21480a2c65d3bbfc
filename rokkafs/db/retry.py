"""Running a transaction again when the database refused it because of a concurrent one
(docs/architecture.md#scaling-out).

rokkafs's own writes rarely meet such a refusal: each component's write transactions first
take that component's advisory lock (path writes: shared, with locks of their own names and
hash prefix) and run at READ COMMITTED, reads are read-only snapshots, and no transaction
touches another component's tables. Two path writes can still wait for each other's hash
prefix lock in a circle (a variant's prefix, locked later, equal to the other's: a 24-bit
coincidence), and a refusal can come from outside (an operator's statement, a server
setting): then the transaction was rolled back whole, and the operation runs again after a
short, growing, jittered pause, a few times, before the caller sees a 503 / EIO.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from rokkafs.errors import TransactionConflict

__all__ = ["ATTEMPTS", "pauses", "retried_on_conflict"]

log = logging.getLogger(__name__)

ATTEMPTS = 5
_FIRST_PAUSE = 0.01

P = ParamSpec("P")
T = TypeVar("T")


def pauses(attempts: int = ATTEMPTS) -> list[float]:
    """The pauses between attempts: 10 ms growing fourfold, each jittered by ±50 %."""
    return [_FIRST_PAUSE * 4**n * random.uniform(0.5, 1.5) for n in range(attempts - 1)]


def retried_on_conflict(operation: Callable[P, T]) -> Callable[P, T]:
    """Run ``operation`` again after a :class:`~rokkafs.errors.TransactionConflict`.

    Only for operations whose one effect is a single transaction (what failed changed
    nothing, so running the whole operation again is safe)."""

    @functools.wraps(operation)
    def retrying(*args: P.args, **kwargs: P.kwargs) -> T:
        for pause in pauses():
            try:
                return operation(*args, **kwargs)
            except TransactionConflict as exc:
                log.info("%s: %s; again in %.0f ms", operation.__qualname__, exc, pause * 1000)
                time.sleep(pause)
        return operation(*args, **kwargs)

    return retrying
