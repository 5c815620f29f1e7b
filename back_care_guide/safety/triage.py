"""The one place that decides the safety outcome of any input.

A screening button, typed text in any state, a caption, an edited message, the
warning-sign check and the pain scale all end here, and the same sign gets the same
outcome wherever it arrives. The rules are data (``flows/triage.yaml``); detectors only
read text (:mod:`back_care_guide.safety.detection`).

What a typed mention leads to:

=====================  ===========================  =========================
sign's tier            plain report (DEFINITE)      hedged or recent history
=====================  ===========================  =========================
emergency, urgent      that tier, at once           one confirmation question
clinician, stop_today  that tier, at once           that tier, at once
=====================  ===========================  =========================

A question about a sign ("what is saddle numbness?") gets information and an invitation
to say whether they have it. When a confirmation is asked, ``then`` keeps the most severe
definite finding of the other tiers, which applies if the answer is No.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from back_care_guide.safety.detection import Detector, Reading, Status, strongest
from back_care_guide.safety.triage_rules import RED_FLAG_TIERS, SEVERITY, Tier, TriageRules


class Action(StrEnum):
    """What the conversation does with an input, most urgent first."""

    REPORT = "report"  # apply the sign's tier now
    CONFIRM = "confirm"  # ask one yes/no question about the sign first (a red flag, hedged)
    CHECK = "check"  # the text could not be read: run the warning-sign check
    INFO = "info"  # explain the sign and ask whether they have it
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Assessment:
    action: Action
    sign: str | None = None
    tier: Tier = Tier.OK
    then: Assessment | None = None  # applies when a confirmation is answered No

    @property
    def alarming(self) -> bool:
        """Whether safety handles this input (anything but INFO and NONE)."""
        return self.action in (Action.REPORT, Action.CONFIRM, Action.CHECK)


NOTHING = Assessment(Action.NONE)
CHECK = Assessment(Action.CHECK)
RECENT_TEXTS = 256  # readings kept, in memory only, for the second look at the same message


class Triage:
    def __init__(self, rules: TriageRules, detectors: Mapping[str, Detector],
                 default_language: str = "en") -> None:
        self.rules = rules
        self.detectors = dict(detectors)
        self.default_language = default_language
        self._by_rule = {rule: name for name, sign in rules.signs.items() for rule in sign.detect}
        # The update processor (is it urgent?) and the runtime (what does it mean?) read the
        # same message within milliseconds: the second read is this memo, not the detectors.
        self._recent: OrderedDict[tuple[str, tuple[str, ...]], Assessment] = OrderedDict()

    # ------------------------------------------------------------ inputs
    def sign(self, sign: str) -> Assessment:
        """A sign reported by a button (screening, a confirmation, the warning-sign check)."""
        return Assessment(Action.REPORT, sign, self.rules.tier_of(sign))

    def rating(self, value: int) -> Assessment:
        """A tap or a typed number on the 0-10 pain scale."""
        scale = self.rules.pain_scale
        return self.sign(scale.sign) if value >= scale.from_ else NOTHING

    def text(self, text: str, language: str | None = None) -> Assessment:
        """Typed text, a caption or an edited message, in the person's language and English."""
        return self._read(text, self._detectors(language))

    def alarming_in_any_language(self, text: str) -> bool:
        """Whether ``text`` is alarming read in any language the bot speaks: for letting a
        message go first before the person's profile (and so their language) is read."""
        return self._read(text, list(self.detectors.values())).alarming

    def _read(self, text: str, detectors: Sequence[Detector]) -> Assessment:
        key = (text, tuple(detector.language for detector in detectors))
        found = self._recent.get(key)
        if found is None:
            found = self.decide([detector.read(text) for detector in detectors])
            self._recent[key] = found
            if len(self._recent) > RECENT_TEXTS:
                self._recent.popitem(last=False)
        return found

    # ------------------------------------------------------------ deciding
    def decide(self, readings: Sequence[Reading]) -> Assessment:
        if any(reading.failed for reading in readings):
            return Assessment(Action.CHECK, then=self._best_other(readings))
        best: Assessment = NOTHING
        for status, sign in self._mentions(readings):
            found = self._assess(sign, status)
            if _rank(found) < _rank(best):
                best = found
        if best.action is Action.CONFIRM:
            return Assessment(Action.CONFIRM, best.sign, best.tier, self._best_other(readings))
        return best

    def _assess(self, sign: str, status: Status) -> Assessment:
        tier = self.rules.tier_of(sign)
        if status is Status.QUESTION:
            return Assessment(Action.INFO, sign, tier)
        if status is Status.HEDGED and tier in RED_FLAG_TIERS:
            return Assessment(Action.CONFIRM, sign, tier)
        return Assessment(Action.REPORT, sign, tier)

    def _best_other(self, readings: Sequence[Reading]) -> Assessment | None:
        """The most severe plain finding outside the red-flag tiers (kept for a No)."""
        best: Assessment | None = None
        for status, sign in self._mentions(readings):
            found = self._assess(sign, status)
            if found.action is Action.REPORT and found.tier not in RED_FLAG_TIERS and (
                    best is None or _rank(found) < _rank(best)):
                best = found
        return best

    def _mentions(self, readings: Sequence[Reading]) -> list[tuple[Status, str]]:
        return [(status, sign) for sign, status in strongest(readings, self._by_rule.get).items()]

    def _detectors(self, language: str | None) -> list[Detector]:
        """The person's language first, and the default language too: people mix them."""
        chosen = [self.detectors.get(language or "")] if language else []
        chosen.append(self.detectors.get(self.default_language))
        unique: list[Detector] = []
        for detector in chosen:
            if detector is not None and detector not in unique:
                unique.append(detector)
        return unique


_ACTION_RANK = {Action.REPORT: 0, Action.CONFIRM: 1, Action.CHECK: 2, Action.INFO: 3,
                Action.NONE: 4}


def _rank(found: Assessment) -> tuple[int, int]:
    """Red-flag reports, then red-flag confirmations, then the other tiers' reports..."""
    if found.action is Action.REPORT and found.tier in RED_FLAG_TIERS:
        return (0, SEVERITY[found.tier])
    if found.action is Action.CONFIRM:
        return (1, SEVERITY[found.tier])
    if found.action is Action.REPORT:
        return (2, SEVERITY[found.tier])
    return (3 + _ACTION_RANK[found.action], SEVERITY[found.tier])


__all__ = ["CHECK", "NOTHING", "Action", "Assessment", "Triage"]
