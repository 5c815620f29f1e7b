"""Typed schema of the data files under ``flows/``.

Pydantic does the schema work (types, required keys, unknown keys); cross-references
between files are checked in :mod:`back_care_guide.flow.validate`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

RETURN = "$return"  # a choice target that goes back to where a `call` came from
REPORTED = "$sign"  # a `report` target: the sign the conversation is about
# Texts a state can say that depend on the safety outcome (flows/triage.yaml):
DYNAMIC_TEXTS = frozenset({
    "$message",  # the reported sign's message
    "$reminder",  # the tier's reminder of the outcome in force (at /start)
    "$question",  # the sign's yes/no question
})
SetKey = Literal["hold", "session", "clear", "withdraw"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(_Strict):
    id: str = Field(min_length=1, max_length=24, pattern=r"^[a-z0-9_]+$")
    label: str
    to: str | None = None
    page: str | None = None
    call: str | None = None
    report: str | None = None  # a sign of flows/triage.yaml (or $sign): its tier decides
    set: dict[SetKey, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_target(self) -> Choice:
        targets = [t for t in (self.to, self.page, self.call, self.report) if t is not None]
        if len(targets) != 1:
            raise ValueError("a choice needs exactly one of 'to', 'page', 'call' or 'report'")
        return self


class State(_Strict):
    kind: Literal["step", "hold", "rating", "screen", "end"] = "step"
    tags: tuple[str, ...] = ()
    say: tuple[str, ...] = ()
    ask: str | None = None
    choices: tuple[Choice, ...] = ()
    # hold states (and `next` for rating states)
    exercise: str | None = None
    halfway: str | None = None
    next: str | None = None
    resume: str | None = None
    # rating states: one tap on a 0-10 scale, stored under `rate`
    rate: Literal["pain_before", "pain_after"] | None = None
    # screen states: one group of flows/triage.yaml, a button per sign and "None of these"
    group: str | None = None
    # a drawing of the position (back_care_guide/pictures), sent with the state's message
    picture: str | None = None
    # end states
    outcome: str | None = None
    # the state's message replaces the question just answered by a tap (one edit instead of
    # a new message); a hold edits its position's message, its halfway note edits it again
    in_place: bool = False

    @model_validator(mode="after")
    def _kind_fields(self) -> State:
        if self.kind == "hold":
            missing = [k for k in ("exercise", "next", "resume") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"a hold state needs {', '.join(missing)}")
            if self.choices:
                raise ValueError("a hold state has no choices; it moves on by its timer")
        elif self.kind == "rating":
            if self.next is None or self.rate is None or self.ask is None:
                raise ValueError("a rating state needs rate, ask and next")
        elif self.kind == "screen":
            if self.next is None or self.group is None:
                raise ValueError("a screen state needs group and next")
            if self.choices or self.ask is not None:
                raise ValueError("a screen state asks its group's question with its signs as choices")
        elif any(getattr(self, k) is not None for k in ("exercise", "halfway", "next", "resume")):
            raise ValueError("exercise, halfway, next and resume belong to hold states only")
        if self.kind != "screen" and self.group is not None:
            raise ValueError("only screen states have 'group'")
        if self.kind != "rating" and self.rate is not None:
            raise ValueError("only rating states have 'rate'")
        if self.kind == "end" and self.outcome is None:
            raise ValueError("an end state needs an outcome")
        if self.kind != "end" and self.outcome is not None:
            raise ValueError("only end states have an outcome")
        if not self.say and self.ask is None and self.kind != "screen":
            raise ValueError("a state needs 'say' or 'ask'")
        return self


class Exercise(_Strict):
    range: tuple[int, int]
    holds: dict[str, int]


class Interrupts(_Strict):
    """Where the global actions lead (the triage outcomes are in flows/triage.yaml)."""

    stop: str  # /stop or the Stop button
    warning: str  # /redflags, the Warning sign button, an unreadable message (call)
    confirm: str  # a hedged red-flag mention: one yes/no question (call)
    info: str  # a question about a sign (call)
    mistap: str  # "I tapped Yes by mistake" right after a screening outcome
    pause: str  # a voice note, sticker or other media during a hold: paused, are you OK? (call)
    late_resume: str  # a hold that ended long ago while the bot was offline (call)
    locked: str  # /start while an outcome holds that the person may now say is cleared
    wait: str  # /start while it holds and can't be cleared yet
    rest: str  # /start on the day of a stop-today outcome
    idle: str  # `$return` when the sub-flow was not called from a session


class Flow(_Strict):
    version: Literal[1]
    id: str
    start: str
    exercises: dict[str, Exercise]
    default_hold: str
    pages: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    interrupts: Interrupts
    states: dict[str, State]


class Locale(_Strict):
    version: Literal[1]
    language: str = Field(pattern=r"^[a-z]{2,3}$")
    texts: dict[str, object]


class Safety(_Strict):
    version: Literal[1]
    screening: tuple[str, ...]
    exercise_tag: str
    no_exercise_tag: str
    hold_ranges: dict[str, tuple[int, int]]
