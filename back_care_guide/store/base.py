"""The store: a unit of work over the repositories, implemented on SQLite and on PostgreSQL
(like python-telegram-bot's ``BasePersistence``, the interface knows no backend).

Everything goes through ``async with store.transaction() as tx``: what the body does through
``tx``'s repositories commits together when it ends, or, if it raises, none of it does. So
one event's changes (conversation, timers, profile, the reminders a feature set, the safety
event) are written at once or not at all, and a read sees one consistent moment.

The body of a transaction must not wait for anything but the store (no messages, no worker
threads): a backend may hold a lock or a connection for as long as it runs.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from back_care_guide.store.coordination import Coordination
from back_care_guide.store.migrations import Migration
from back_care_guide.store.records import StoreLocation
from back_care_guide.store.repositories import (
    ConversationRepository,
    ProcessedUpdateRepository,
    ProfileRepository,
    ReminderRepository,
    SafetyEventRepository,
    SessionRepository,
    TimerRepository,
)


class Transaction(Protocol):
    """The repositories of one unit of work."""

    @property
    def conversations(self) -> ConversationRepository: ...

    @property
    def timers(self) -> TimerRepository: ...

    @property
    def profiles(self) -> ProfileRepository: ...

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def reminders(self) -> ReminderRepository: ...

    @property
    def safety_events(self) -> SafetyEventRepository: ...

    @property
    def processed_updates(self) -> ProcessedUpdateRepository: ...

    async def delete_user(self, user_id: int) -> None:
        """Erase everything stored about the user, in every table."""
        ...


class Store(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        ...

    @property
    def location(self) -> StoreLocation:
        """Where the data lives, to tell people (never a password)."""
        ...

    @property
    def schema_version(self) -> int:
        """The version of the schema, which opening the store brought up to date."""
        ...

    @property
    def migrated(self) -> tuple[Migration, ...]:
        """The migrations opening the store applied (none if it was up to date)."""
        ...

    @property
    def coordination(self) -> Coordination:
        """What the processes sharing this store agree on (nothing, for one process alone)."""
        ...

    async def close(self) -> None: ...
