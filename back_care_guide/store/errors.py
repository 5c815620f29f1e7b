"""The errors a store raises."""

from __future__ import annotations

__all__ = ["StoreError", "TooManyReminders"]


class StoreError(Exception):
    """The database named by ``DATABASE_URL`` cannot be used.

    The message is ONE line that names ``DATABASE_URL`` (and, for a SQLite file, its
    path, never a password or user data); the command line prints it as is and exits with
    code 2, without a traceback.
    """


class TooManyReminders(Exception):
    """The user already has as many reminders as they may keep; nothing was written."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit
