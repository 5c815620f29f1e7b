"""One repository per table: what the bot reads and writes, with no SQL and no backend.

A repository is only used inside a unit of work (``async with store.transaction() as tx``,
see :mod:`back_care_guide.store.base`), so everything one event changes commits together.
Each backend implements every protocol here (today :mod:`back_care_guide.store.sqlite`).
Times are epoch seconds (``float``); ``now`` is always passed in, so tests can use a fake clock.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Protocol

from back_care_guide.reminders.schedule import ReminderRule
from back_care_guide.store.records import (
    Conversation,
    Due,
    LogSession,
    PendingTimer,
    Profile,
    Prompt,
    Reminder,
    SafetyEvent,
    Timer,
)

#: How many reminders one user may keep.
MAX_REMINDERS_PER_USER = 5


def same_slot(reminders: Sequence[Reminder], rule: ReminderRule) -> Reminder | None:
    """The reminder with ``rule``'s time and days, which adding ``rule`` replaces."""
    return next((r for r in reminders if r.rule.local_time == rule.local_time
                 and r.rule.weekdays_only == rule.weekdays_only), None)


def room_for(reminders: Sequence[Reminder], rule: ReminderRule) -> bool:
    """Whether the user with ``reminders`` may add ``rule`` (it replaces one, or there is room)."""
    return same_slot(reminders, rule) is not None or len(reminders) < MAX_REMINDERS_PER_USER


class ConversationRepository(Protocol):
    """Where each user is in the flow (state, context, the message with their buttons)."""

    async def get(self, user_id: int) -> Conversation | None:
        """The user's conversation without its timers (see :class:`TimerRepository`)."""
        ...

    async def save(self, conversation: Conversation) -> None: ...

    async def save_prompt(self, user_id: int, prompt: Prompt | None) -> None:
        """Remember which message carries the user's current buttons."""
        ...


class TimerRepository(Protocol):
    """The user's running holds, so that a restart re-arms them."""

    async def for_user(self, user_id: int) -> list[Timer]:
        """The user's timers, earliest first."""
        ...

    async def replace(self, user_id: int, timers: Sequence[Timer]) -> None:
        """Make ``timers`` the user's only timers."""
        ...

    async def pending(self) -> list[PendingTimer]:
        """Every stored timer, earliest first (read once at start-up to re-arm them)."""
        ...

    async def due(self, before: float, limit: int) -> list[PendingTimer]:
        """Up to ``limit`` timers due before ``before``, earliest first: those another
        replica should have fired and did not (it died), for any replica to take over."""
        ...


class ProfileRepository(Protocol):
    """Settings and safety status that outlive a session."""

    async def get(self, user_id: int) -> Profile | None: ...

    async def save(self, profile: Profile) -> None: ...


class SessionRepository(Protocol):
    """Finished sessions, for /progress and /export."""

    async def add(self, user_id: int, session: LogSession) -> None: ...

    async def since(self, user_id: int, since: float) -> list[LogSession]:
        """The user's sessions that started at or after ``since``, oldest first."""
        ...


class SafetyEventRepository(Protocol):
    """Each person's safety history (reported, corrected, cleared)."""

    async def add(self, user_id: int, event: SafetyEvent) -> None: ...

    async def for_user(self, user_id: int) -> list[SafetyEvent]:
        """The person's safety history, oldest first."""
        ...


class ProcessedUpdateRepository(Protocol):
    """Telegram update ids already taken in, so a re-delivery is acted on once, by any process."""

    async def add(self, update_id: int, now: float) -> bool:
        """Note ``update_id``; ``False`` if it was noted before (a duplicate delivery)."""
        ...

    async def forget_before(self, before: float) -> int:
        """Drop ids noted before ``before`` (Telegram re-delivers for a day at most); how many."""
        ...


class ReminderRepository(Protocol):
    """Daily reminders.

    The effective due time of a reminder is ``snoozed_until`` when set, else
    ``next_fire_utc``. A snooze that reaches past the regular next occurrence suppresses it
    (the reminder fires once, at the snooze time, then resumes its schedule).
    """

    async def list(self, user_id: int) -> builtins.list[Reminder]:
        """The user's reminders, by local time then "every day" before "weekdays only"."""
        ...

    async def get(self, reminder_id: int) -> Reminder | None: ...

    async def next_due(self) -> float | None:
        """The earliest effective due time of any active reminder, or ``None``."""
        ...

    async def add(self, user_id: int, rule: ReminderRule, now: float) -> Reminder:
        """Add a reminder, or replace the user's reminder with the same time and days.

        Replacing keeps its id, takes the new zone, clears any snooze and reactivates it.
        Raises :class:`~back_care_guide.store.errors.TooManyReminders`, having written
        nothing, when a new one would exceed :data:`MAX_REMINDERS_PER_USER`.
        """
        ...

    async def update(self, reminder_id: int, rule: ReminderRule, now: float) -> Reminder | None:
        """Change a reminder's rule (next fire recomputed from ``now``, snooze cleared).

        If the user already has another reminder with the new time and days, that one is
        removed (merged into this one) so no duplicate exists. ``None`` if the id is unknown.
        """
        ...

    async def delete(self, reminder_id: int) -> bool: ...

    async def delete_all(self, user_id: int) -> int:
        """Remove every reminder of the user; returns how many there were."""
        ...

    async def set_active_for_user(self, user_id: int, active: bool, now: float) -> int:
        """Pause or resume all of a user's reminders; returns how many changed.

        Pausing (user blocked the bot) clears snoozes. Resuming recomputes the next fire
        strictly after ``now``: occurrences missed while paused are never sent.
        """
        ...

    async def set_zone_for_user(self, user_id: int, zone: str, now: float) -> int:
        """Move all of the user's reminders to ``zone`` (same wall times); next fires are
        recomputed from ``now``, snoozes (absolute instants) are kept. Raises ``ValueError``
        for an unknown zone. Returns how many reminders were changed.
        """
        ...

    async def snooze(self, reminder_id: int, until: float) -> bool:
        """Fire an active reminder again at ``until``. False if unknown or paused."""
        ...

    async def skip_today(self, reminder_id: int, now: float) -> Reminder | None:
        """Skip whatever is left of the user's local today: the next fire becomes the first
        occurrence on a later local date; any snooze is cleared. ``None`` if unknown.
        """
        ...

    async def due(self, now: float, limit: int) -> builtins.list[Due]:
        """Up to ``limit`` active reminders whose effective due time is ≤ ``now``, earliest
        first, WITHOUT claiming them: nothing is advanced, so a crash after this call loses
        nothing. Each must be taken with :meth:`claim` right before it is sent.

        (A reminder whose rule can no longer be read, e.g. a zone key dropped by a tzdata
        update, is deactivated here and not returned.)
        """
        ...

    async def claim(self, dues: Sequence[Due], now: float) -> builtins.list[Due]:
        """Claim reminders returned by :meth:`due`; returns those claimed (as of ``now``:
        ``late`` is measured to ``now``), in the order given.

        A reminder is claimed only if it is still active and still due at the same time by
        the same route (regular occurrence or snooze) as when it was read; one that was
        changed, snoozed, paused, deleted or claimed since is left alone and not returned.
        Claiming advances it to its next occurrence strictly after ``now`` and clears its
        snooze, so it can never be claimed (and sent) again.
        """
        ...

    async def claim_due(self, now: float, limit: int) -> builtins.list[Due]:
        """:meth:`due` and :meth:`claim` at once: take up to ``limit`` due reminders, each
        advanced to its next occurrence strictly after ``now`` with its snooze cleared;
        returns what was due, earliest first.

        For tools and tests: everything claimed here that is not sent yet is lost if the
        process dies, so the dispatcher claims one reminder at a time instead.
        """
        ...
