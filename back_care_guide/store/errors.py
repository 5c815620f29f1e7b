"""The one error a store raises when it cannot be opened."""

from __future__ import annotations

__all__ = ["StoreError"]


class StoreError(Exception):
    """The database named by ``DATABASE_URL`` cannot be used.

    The message is ONE line that names ``DATABASE_URL`` (and, for a SQLite file, its
    path, never a password or user data); the command line prints it as is and exits with
    code 2, without a traceback.
    """
