"""Which paths other nodes changed, pushed by PostgreSQL (``LISTEN``/``NOTIFY``).

Triggers on the tables that decide what a path shows (images, organizations, side files,
folders) send ``<org>/<name>`` on the channel :data:`CHANNEL` for every row written; PostgreSQL
delivers them when (and only if) the transaction commits. A :class:`ChangeFeed` listens on a
connection of its own, in a thread, and hands each batch of changed paths to a callback; after
every (re)connection it first calls ``on_reset`` (what happened while it was away is unknown:
forget everything). With ``skip_own`` it leaves out what this process's own pool connections
changed (a process that keeps its caches right on its own writes, as the mount does, would
otherwise forget a folder's listing after every file it writes there). See
``docs/architecture.md#scaling-out``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from rokkafs.db.postgres import forget_backends, made_here, safe_url

__all__ = ["CHANNEL", "TRIGGER_STATEMENTS", "ChangeFeed", "path_triggers"]

log = logging.getLogger(__name__)

CHANNEL = "rokkafs_paths"
HEARTBEAT_SECONDS = 10.0

# (a function shared by the components; the column that holds the path is its argument)
TRIGGER_STATEMENTS = [
    # (a notification holds at most 8000 bytes: a longer path, 1900 characters of up to four
    # bytes, is announced as "*", which makes listeners forget everything)
    f"""CREATE OR REPLACE FUNCTION rokkafs_notify_path() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        field TEXT := TG_ARGV[0];
        changed TEXT;
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            changed := OLD.org || '/' || (to_jsonb(OLD) ->> field);
            PERFORM pg_notify('{CHANNEL}', CASE WHEN length(changed) > 1900 THEN '*'
                                                ELSE changed END);
        END IF;
        IF TG_OP <> 'DELETE' THEN
            changed := NEW.org || '/' || (to_jsonb(NEW) ->> field);
            PERFORM pg_notify('{CHANNEL}', CASE WHEN length(changed) > 1900 THEN '*'
                                                ELSE changed END);
        END IF;
        RETURN NULL;
    END $$""",
    f"""CREATE OR REPLACE FUNCTION rokkafs_notify_organization() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('{CHANNEL}', COALESCE(NEW.name, OLD.name));
        RETURN NULL;
    END $$""",
]


def path_triggers(table: str, column: str) -> list[str]:
    """The statements that make ``table`` announce the paths its rows name (``column``)."""
    return [
        *TRIGGER_STATEMENTS,
        f"CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION rokkafs_notify_path('{column}')",
    ]


class ChangeFeed:
    """Listen for changed paths in a thread until :meth:`stop`."""

    def __init__(
        self,
        url: str,
        on_change: Callable[[set[str]], None],
        on_reset: Callable[[], None],
        *,
        retry_seconds: float = 1.0,
        skip_own: bool = False,
    ) -> None:
        self._url = url
        self._on_change = on_change
        self._on_reset = on_reset
        self._retry_seconds = retry_seconds
        self._skip_own = skip_own
        self._stopped = threading.Event()
        self.listening = threading.Event()  # (set while connected and listening)
        self._thread = threading.Thread(target=self._run, name="rokkafs-changes", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                self._listen()
            except Exception as exc:  # (the database restarted or is unreachable)
                log.warning("change feed of %s: %s", safe_url(self._url), exc)
            self.listening.clear()
            self._stopped.wait(self._retry_seconds)

    def _listen(self) -> None:
        import psycopg

        with psycopg.connect(
            self._url,
            autocommit=True,
            connect_timeout=5,
            keepalives=1,  # (a connection that died silently is noticed within a minute)
            keepalives_idle=20,
            keepalives_interval=5,
            keepalives_count=3,
        ) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            if self._skip_own:  # (the database may have restarted: process ids are reused)
                forget_backends()
            self._on_reset()
            self.listening.set()
            quiet_since = time.monotonic()
            while not self._stopped.is_set():
                heard = list(connection.notifies(timeout=0.5, stop_after=1))
                if heard:  # (then what else has arrived, as one batch)
                    heard += connection.notifies(timeout=0.0)
                    quiet_since = time.monotonic()
                    changed = {n.payload for n in heard if not self._made_here(n.pid)}
                    if changed:
                        self._on_change(changed)
                elif time.monotonic() - quiet_since > HEARTBEAT_SECONDS:
                    connection.execute("SELECT 1")  # (raises if the server is gone)
                    quiet_since = time.monotonic()

    def _made_here(self, backend_pid: int) -> bool:
        return self._skip_own and made_here(backend_pid)

    def stop(self) -> None:
        """Stop listening (within half a second)."""
        self._stopped.set()
        self._thread.join(timeout=5)
