"""The schema of ``flows/triage.yaml`` and its typed, validated form.

Pydantic checks the shape (types, required and unknown keys) through the one data loader
(:func:`back_care_guide.data.load`), so errors name file, line and key. Cross-references to
the flow, the locales and the detector lexicons are checked in
:mod:`back_care_guide.safety.triage_check`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Tier(StrEnum):
    """What a sign means for the person, most severe first."""

    EMERGENCY = "emergency"  # call the emergency number or go to an emergency department now
    URGENT = "urgent"  # seek immediate medical attention (the article's red flags)
    CLINICIAN = "clinician"  # no stretches; see a physician or physical therapist first
    STOP_TODAY = "stop_today"  # no more stretches today
    OK = "ok"


SEVERITY: dict[Tier, int] = {tier: rank for rank, tier in enumerate(Tier)}
LOCKING = (Tier.EMERGENCY, Tier.URGENT, Tier.CLINICIAN, Tier.STOP_TODAY)
RED_FLAG_TIERS = frozenset({Tier.EMERGENCY, Tier.URGENT})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Lock(_Strict):
    """How long no stretches are offered after a sign of the tier is reported."""

    until: Literal["clearance", "day"]
    min_hours: float = Field(default=0, ge=0, le=24 * 30)
    next_day: bool = False


class TierRule(_Strict):
    outcome: str  # the flow state the person is taken to
    message: str  # said first in that state
    reminder: str  # said when they come back (/start) while the lock holds
    resume: str  # said with the first reminder after the lock ended
    lock: Lock


class Tiers(_Strict):
    emergency: TierRule
    urgent: TierRule
    clinician: TierRule
    stop_today: TierRule

    def rule(self, tier: Tier) -> TierRule:
        rule: TierRule = getattr(self, tier.value)
        return rule


class PainScale(_Strict):
    sign: str
    from_: int = Field(alias="from", ge=1, le=10)


class Group(_Strict):
    question: str
    signs: tuple[str, ...] = Field(min_length=1)


class Sign(_Strict):
    tier: Literal["emergency", "urgent", "clinician", "stop_today"]
    question: str  # yes/no, plain words, with its time frame
    label: str  # the screening button
    name: str  # how messages name it
    message: str  # said first when it is reported
    detect: tuple[str, ...] = Field(min_length=1)  # detector rule ids
    source: tuple[str, ...] = Field(min_length=1)
    lasting: bool = False  # a condition that stays: a clinician's clearance for it lasts

    @property
    def level(self) -> Tier:
        return Tier(self.tier)


class TriageRules(_Strict):
    version: Literal[1]
    sources: dict[str, str]
    tiers: Tiers
    pain_scale: PainScale
    groups: dict[str, Group]
    signs: dict[str, Sign]

    def tier_of(self, sign: str) -> Tier:
        return self.signs[sign].level

    def group_of(self, sign: str) -> str | None:
        for name, group in self.groups.items():
            if sign in group.signs:
                return name
        return None


__all__ = ["LOCKING", "RED_FLAG_TIERS", "SEVERITY", "Group", "Lock", "Sign", "Tier", "TierRule",
           "TriageRules"]
