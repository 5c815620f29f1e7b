"""The store interface. SQLite implements it today; PostgreSQL can implement it later."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from back_care_guide.engine.events import LogSession, Prompt, Timer
from back_care_guide.store.records import Conversation, Profile, SafetyEvent


@dataclass(frozen=True, slots=True)
class PendingTimer:
    user_id: int
    timer: Timer


class Store(Protocol):
    async def load(self, user_id: int) -> tuple[Conversation | None, Profile | None]:
        """The user's conversation and profile, if stored."""
        ...

    async def save(self, conversation: Conversation, profile: Profile) -> None:
        """Write state, context, timers and profile in one transaction."""
        ...

    async def save_prompt(self, user_id: int, prompt: Prompt | None) -> None:
        """Remember which message carries the user's current buttons."""
        ...

    async def pending_timers(self) -> list[PendingTimer]:
        """Every stored timer, earliest first (used once at start-up to re-arm them)."""
        ...

    async def log_session(self, user_id: int, session: LogSession) -> None:
        """Keep a finished session for /progress."""
        ...

    async def log_safety(self, user_id: int, event: SafetyEvent) -> None:
        """Keep a safety outcome (reported, corrected, cleared) in the person's history."""
        ...

    async def safety_events(self, user_id: int) -> list[SafetyEvent]:
        """The person's safety history, oldest first."""
        ...

    async def sessions(self, user_id: int, since: float) -> list[LogSession]:
        """The user's sessions that started at or after ``since`` (epoch seconds), oldest first."""
        ...

    async def delete_user(self, user_id: int) -> None:
        """Erase everything stored about the user."""
        ...

    async def close(self) -> None: ...
