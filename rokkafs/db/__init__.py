"""The databases rokkafs keeps state in: SQLite files of a data directory, or one
PostgreSQL database shared by nodes (``docs/architecture.md#scaling-out``)."""
