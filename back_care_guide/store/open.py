"""Open the store ``DATABASE_URL`` names, whatever its backend."""

from __future__ import annotations

from back_care_guide.store.base import Store
from back_care_guide.store.sqlite import WATCH_INTERVAL, SqliteStore


def open_store(database_url: str, *, watch_interval: float = WATCH_INTERVAL,
               pool_size: int | None = None, holds: int | None = None) -> Store:
    """The store for ``database_url`` (``sqlite:///...`` or ``postgresql://...``), migrated to
    the current schema. ``pool_size`` and ``holds`` size PostgreSQL's connection pools (see
    :class:`~back_care_guide.store.postgresql.PostgresStore`); ``watch_interval`` is how often
    SQLite checks that its file is still there.

    Raises :class:`~back_care_guide.store.errors.StoreError` (one line) if it cannot be used.
    """
    if database_url.split("://", 1)[0] in ("postgresql", "postgres"):
        from back_care_guide.store.postgresql import PostgresStore  # psycopg only when used

        return PostgresStore.from_url(database_url, pool_size=pool_size, holds=holds)
    return SqliteStore.from_url(database_url, watch_interval=watch_interval)
