"""The store on one SQLite file: its safety rules (:mod:`.store`), repositories and migrations."""

from back_care_guide.store.sqlite.migrations import SCHEMA_VERSION
from back_care_guide.store.sqlite.store import WATCH_INTERVAL, SqliteStore, lock_path, sqlite_path

__all__ = ["SCHEMA_VERSION", "WATCH_INTERVAL", "SqliteStore", "lock_path", "sqlite_path"]
