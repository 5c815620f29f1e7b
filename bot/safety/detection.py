"""The seam between free text and the flow.

Every free-text message passes through a :class:`Detector` before the flow sees it.
The engine only depends on this protocol; the concrete detector is configured
from YAML under ``flows/`` and lives in its own module.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Outcome(StrEnum):
    """What a free-text message means for safety, most urgent first."""

    EMERGENCY = "emergency"  # an article red flag or cauda-equina sign: urgent care now
    UNSURE = "unsure"  # a hedged or partial mention of an emergency sign: ask one yes/no question
    STOP_NOW = "stop_now"  # sharp, localized or radiating pain: stop the session
    CLINICIAN = "clinician"  # not an emergency, but a clinician should look soon
    NONE = "none"  # nothing safety-relevant; the flow handles the text


# Sign keys. Each one has a locale text ``sign.<key>`` that names it for the user.
EMERGENCY_SIGNS = (
    "bladder_bowel",  # loss of bladder or bowel control
    "leg_weakness",  # sudden weakness in the legs
    "leg_numbness",  # numbness or tingling travelling down a leg
    "saddle_numbness",  # numbness in the groin, buttocks or genitals
    "both_legs",  # symptoms in both legs
    "urinary_retention",  # unable to pass urine
)
STOP_SIGNS = ("sharp_pain",)
CLINICIAN_SIGNS = (
    "chronic_pain",
    "night_pain",
    "fever",
    "weight_loss",
    "cancer_history",
    "recent_trauma",
)


@dataclass(frozen=True, slots=True)
class Detection:
    outcome: Outcome
    sign: str | None = None  # one of the sign keys above, None for Outcome.NONE

    @property
    def alarming(self) -> bool:
        return self.outcome is not Outcome.NONE


NOTHING = Detection(Outcome.NONE)


class Detector(Protocol):
    def detect(self, text: str) -> Detection:
        """Classify one message. Must be fast (called for every text) and never raise."""
        ...
