"""What the store keeps per user. Plain data, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # events import the safety records below
    from back_care_guide.engine.events import Effect, Prompt, Timer


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
