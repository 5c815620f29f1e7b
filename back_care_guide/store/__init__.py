"""Storage: the unit of work and repository interfaces, on SQLite and on PostgreSQL.

* :mod:`.base`: :class:`Store` and :class:`Transaction`, the unit of work;
* :mod:`.repositories`: one protocol per table;
* :mod:`.records`: the typed records they take and return;
* :mod:`.migrations`: schema versions;
* :mod:`.codec`: how records become column values, the same for every backend;
* :mod:`.coordination`: what processes sharing one store agree on (nothing, for SQLite);
* :mod:`.sqlite`: the SQLite backend, one process (its SQL is there);
* :mod:`.postgresql`: the PostgreSQL backend, for several replicas (its SQL is there);
* :func:`open_store`: the backend ``DATABASE_URL`` names.
"""

from back_care_guide.store.base import Store, Transaction
from back_care_guide.store.errors import StoreError, TooManyReminders
from back_care_guide.store.open import open_store
from back_care_guide.store.records import (
    Conversation,
    Due,
    PendingTimer,
    Profile,
    Reminder,
    SafetyEvent,
    SafetyHold,
    StoreLocation,
)
from back_care_guide.store.repositories import (
    MAX_REMINDERS_PER_USER,
    ConversationRepository,
    ProcessedUpdateRepository,
    ProfileRepository,
    ReminderRepository,
    SafetyEventRepository,
    SessionRepository,
    TimerRepository,
)
from back_care_guide.store.state import load_user_state, save_user_state

__all__ = [
    "MAX_REMINDERS_PER_USER",
    "Conversation",
    "ConversationRepository",
    "Due",
    "PendingTimer",
    "ProcessedUpdateRepository",
    "Profile",
    "ProfileRepository",
    "Reminder",
    "ReminderRepository",
    "SafetyEvent",
    "SafetyEventRepository",
    "SafetyHold",
    "SessionRepository",
    "Store",
    "StoreError",
    "StoreLocation",
    "TimerRepository",
    "TooManyReminders",
    "Transaction",
    "load_user_state",
    "open_store",
    "save_user_state",
]
