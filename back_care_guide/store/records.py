"""What the store keeps. Plain data, no behaviour: the records every repository takes and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from back_care_guide.reminders.schedule import ReminderRule

if TYPE_CHECKING:
    from back_care_guide.engine.events import Effect


@dataclass(slots=True)
class Prompt:
    """The message that carries the user's current buttons, as the transport knows it."""

    ref: int  # the transport's message id
    text: str
    seq: int
    picture: bool = False  # a photo message: its text is a caption
    latest: bool = True  # nothing has appeared below it in the chat, so it may be edited in place


@dataclass(frozen=True, slots=True)
class Timer:
    kind: str
    due: float  # UTC epoch seconds
    epoch: int


@dataclass(frozen=True, slots=True)
class LogSession:
    """A finished session, kept for /progress (as an effect: the engine asks for it to be kept)."""

    started_at: float
    ended_at: float
    outcome: str
    pain_before: int | None
    pain_after: int | None


class Conversation:
    """One user's place in the flow. This is the model object registered with `transitions`.

    Slots keep an active user small, and with ``model_override`` transitions adds no
    per-model convenience methods, so a model costs little more than its context dict.
    """

    __slots__ = ("answered", "ctx", "effects", "profile", "prompt", "state", "timers", "user_id")

    def __init__(
        self,
        user_id: int,
        state: str,
        ctx: dict[str, Any] | None = None,
        timers: list[Timer] | None = None,
        prompt: Prompt | None = None,
    ) -> None:
        self.user_id = user_id
        self.state = state
        self.ctx: dict[str, Any] = ctx if ctx is not None else {}
        self.timers: list[Timer] = timers if timers is not None else []
        self.prompt = prompt
        self.effects: list[Effect] = []  # filled while the engine handles one event
        self.profile: Profile | None = None  # attached while the engine handles one event
        # the prompt just answered by a tap, while the engine handles that tap: the next
        # question may be edited into it (see ``Send.replaces``)
        self.answered: Prompt | None = None


@dataclass(slots=True)
class SafetyHold:
    """A safety outcome that keeps the stretches away (see :mod:`back_care_guide.safety.hold`)."""

    tier: str  # a tier of flows/triage.yaml
    sign: str  # the sign that was reported
    since: float  # when, UTC epoch seconds
    day: str  # the person's local date then (ISO), for "not the same day" and "next day"


@dataclass(frozen=True, slots=True)
class SafetyEvent:
    """One entry of a person's safety history, kept for their own record (and /export)."""

    at: float
    kind: str  # reported | corrected | cleared
    tier: str
    sign: str
    via: str  # button | text | rating | check


@dataclass(slots=True)
class Profile:
    """Settings and safety status that outlive a session."""

    user_id: int
    language: str | None = None
    country: str | None = None
    hold: SafetyHold | None = None  # the outcome in force, until it ends or is cleared
    timezone: str | None = None  # IANA name or "UTC+05:30", for reminders and /progress
    active: bool = True  # False after the user blocked the bot
    extra: dict[str, Any] = field(default_factory=dict)
    # Lasting conditions (a known disc problem) a clinician has cleared, with when.
    cleared: dict[str, float] = field(default_factory=dict)
    paused_by: str | None = None  # the tier whose hold skipped reminders: said when they resume


@dataclass(frozen=True, slots=True)
class PendingTimer:
    """A stored timer with its user, for re-arming every timer after a restart."""

    user_id: int
    timer: Timer


@dataclass(frozen=True, slots=True)
class Reminder:
    """A daily reminder. Times are epoch seconds."""

    id: int
    user_id: int
    rule: ReminderRule
    next_fire_utc: float
    snoozed_until: float | None
    active: bool
    created_at: float

    @property
    def due_at(self) -> float:
        """The effective next due time (the snooze if set, else the regular occurrence)."""
        return self.snoozed_until if self.snoozed_until is not None else self.next_fire_utc


@dataclass(frozen=True, slots=True)
class Due:
    """A reminder claimed for delivery."""

    reminder_id: int
    user_id: int
    due_at: float  # the effective due time that was reached (epoch seconds)
    late: float  # seconds between due_at and the claim
    snoozed: bool  # True if it was a snoozed repeat rather than the regular occurrence


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """Where a store keeps its data, said to people (never a password)."""

    shown: str  # a file's absolute path, or host and database name
    folder: Path | None  # the local folder the data lives in, if it is a file
