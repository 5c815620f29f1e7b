"""Open the store ``DATABASE_URL`` names, whatever its backend."""

from __future__ import annotations

from back_care_guide.store.base import Store
from back_care_guide.store.sqlite import WATCH_INTERVAL, SqliteStore


def open_store(database_url: str, *, watch_interval: float = WATCH_INTERVAL) -> Store:
    """The store for ``database_url``, migrated to the current schema.

    Raises :class:`~back_care_guide.store.errors.StoreError` (one line) if it cannot be used.
    """
    return SqliteStore.from_url(database_url, watch_interval=watch_interval)
