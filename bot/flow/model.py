"""Typed schema of the data files under ``flows/``.

Pydantic does the schema work (types, required keys, unknown keys); cross-references
between files are checked in :mod:`bot.flow.validate`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

RETURN = "$return"  # a choice target that goes back to where a `call` came from
SetKey = Literal["sign", "condition", "hold", "unlock", "session"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(_Strict):
    id: str = Field(min_length=1, max_length=24, pattern=r"^[a-z0-9_]+$")
    label: str
    to: str | None = None
    page: str | None = None
    call: str | None = None
    set: dict[SetKey, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_target(self) -> Choice:
        targets = [t for t in (self.to, self.page, self.call) if t is not None]
        if len(targets) != 1:
            raise ValueError("a choice needs exactly one of 'to', 'page' or 'call'")
        return self


class State(_Strict):
    kind: Literal["step", "hold", "rating", "end"] = "step"
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
    # end states
    outcome: str | None = None

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
        elif any(getattr(self, k) is not None for k in ("exercise", "halfway", "next", "resume")):
            raise ValueError("exercise, halfway, next and resume belong to hold states only")
        if self.kind != "rating" and self.rate is not None:
            raise ValueError("only rating states have 'rate'")
        if self.kind == "end" and self.outcome is None:
            raise ValueError("an end state needs an outcome")
        if self.kind != "end" and self.outcome is not None:
            raise ValueError("only end states have an outcome")
        if not self.say and self.ask is None:
            raise ValueError("a state needs 'say' or 'ask'")
        return self


class Exercise(_Strict):
    range: tuple[int, int]
    holds: dict[str, int]


class Interrupts(_Strict):
    stop: str
    warning: str
    emergency: str
    stop_now: str
    unsure: str
    clinician: str
    late_resume: str
    locked: str
    idle: str


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
    urgent_state: str
    screening: tuple[str, ...]
    exercise_tag: str
    no_exercise_tag: str
    hold_ranges: dict[str, tuple[int, int]]
