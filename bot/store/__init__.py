"""Storage: the :class:`~bot.store.base.Store` interface and its SQLite implementation."""

from bot.store.errors import StoreError

__all__ = ["StoreError"]
