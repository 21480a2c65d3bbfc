"""On PostgreSQL a lookup by name uses the index on names however large the organization
grew since the statement was first prepared: statements are planned with their values, not
once for all values (a plan made while the table held a few rows is kept until the next
ANALYZE, and it scanned every image of the organization for each lookup)."""

from __future__ import annotations

import re
from pathlib import Path

import images
from support import upload

from rokkafs.store.index.postgres import PostgresIndex
from rokkafs.store.local import LocalStore

GROWN_BY = 3000
COLUMNS = (
    "org, hash, short_hash, binary_hash, blob_id, name, format, mimetype, size, width, height, "
    "opaque, animated, locked, protected, created, mtime, deleted_at, user_metadata, "
    "dynamic_metadata, md5"
)
COPIES = COLUMNS.replace("hash, short_hash,", "md5(g::text) || 'a', 'g' || g,", 1).replace(
    "name,", "'many/' || g || '.png',", 1
)


def test_a_lookup_by_name_uses_the_name_index_after_the_organization_grew(  # type: ignore[no-untyped-def]
    postgres, tmp_path: Path
) -> None:
    index = PostgresIndex(postgres.new_database(), max_connections=1)  # (one session: its plans)
    store = LocalStore(tmp_path / "data", index=index)
    try:
        store.create_organization("acme")
        database = index._database
        with database.autocommit() as db:  # (an ANALYZE would replan: the test could not fail)
            db.execute("ALTER TABLE images SET (autovacuum_enabled = false)")
        upload(store, images.png(), "a.png")
        for _ in range(15):  # (psycopg prepares after 5 runs; PostgreSQL may settle after 5 more)
            assert store.find_by_name_or_folder("acme", "a.png")[0] is not None
        with database.transaction() as db:
            db.execute(
                f"INSERT INTO images ({COLUMNS}) SELECT {COPIES} FROM images, "
                "generate_series(1, ?) AS g",
                (GROWN_BY,),
            )
        assert store.find_by_name_or_folder("acme", "many/7.png")[0] is not None
        (prepared,) = database.query(
            "SELECT name FROM pg_prepared_statements WHERE statement LIKE '%AS below%'"
        )
        plan = "\n".join(
            row[0]
            for row in database.query(
                f"EXPLAIN EXECUTE {prepared[0]}"
                "('acme', 'many/7.png', 'acme', 'many/7.png/', 'many/7.png0')"
            )
        )
        assert re.search(r"Index Cond: .*\(name = ", plan), plan
    finally:
        store.close()
