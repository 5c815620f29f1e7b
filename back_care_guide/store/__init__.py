"""Storage: the :class:`~back_care_guide.store.base.Store` interface and its SQLite implementation."""

from back_care_guide.store.errors import StoreError

__all__ = ["StoreError"]
