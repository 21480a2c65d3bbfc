"""Slowing down repeated failed authentications from one address."""

from __future__ import annotations

import threading
import time

__all__ = ["Throttle"]


class Throttle:
    """After ``free`` failures within ``window`` seconds, each further attempt from that
    address waits longer (doubling, at most ``ceiling`` seconds) before it is answered."""

    def __init__(self, *, free: int = 5, window: float = 60.0, ceiling: float = 8.0) -> None:
        self._free, self._window, self._ceiling = free, window, ceiling
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def delay(self, address: str) -> float:
        """Seconds to wait before answering this address."""
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.get(address, []) if now - t < self._window]
            self._failures[address] = recent
        excess = len(recent) - self._free
        return 0.0 if excess < 0 else min(0.25 * 2.0**excess, self._ceiling)

    def failed(self, address: str) -> None:
        with self._lock:
            self._failures.setdefault(address, []).append(time.monotonic())
            if len(self._failures) > 10_000:  # bounded memory under a spray of addresses
                self._failures.pop(next(iter(self._failures)))

    def wait(self, address: str) -> None:
        """Sleep as long as :meth:`delay` says."""
        pause = self.delay(address)
        if pause:
            time.sleep(pause)
