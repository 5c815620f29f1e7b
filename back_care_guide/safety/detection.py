"""The seam between free text and triage.

A :class:`Detector` reads one message in one language and says which signs it mentions
and how (a plain report, a hedged one, or a question about the term). It decides
nothing: :mod:`back_care_guide.safety.triage` turns a reading into the safety outcome, the same way
for every input. Sign ids are the ones of ``flows/triage.yaml``; each detector lexicon
(``flows/detector/<lang>.yaml``) has rules under the same ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Status(StrEnum):
    """How a message mentions a sign, strongest first."""

    DEFINITE = "definite"  # a plain first-person report of a current or new symptom
    HEDGED = "hedged"  # uncertain, partial or mild, or history that is recent or unclear
    QUESTION = "question"  # asks about the term ("what counts as numbness?"), reports nothing


STRENGTH = {Status.DEFINITE: 0, Status.HEDGED: 1, Status.QUESTION: 2}


@dataclass(frozen=True, slots=True)
class Mention:
    sign: str  # a sign id of flows/triage.yaml
    status: Status


@dataclass(frozen=True, slots=True)
class Reading:
    """What one message says about signs.

    Symptoms placed clearly in the past and said to have resolved, and other people's
    symptoms, are not mentions at all. ``failed`` means the detector broke on this text:
    triage then asks about warning signs rather than ignoring the message.
    """

    mentions: tuple[Mention, ...] = ()  # at most one per sign, with its strongest status
    failed: bool = False

    def status(self, sign: str) -> Status | None:
        for mention in self.mentions:
            if mention.sign == sign:
                return mention.status
        return None


def strongest(readings: Iterable[Reading],
              sign_of: Callable[[str], str | None] = lambda sign: sign) -> dict[str, Status]:
    """Each sign the readings mention, once, at its strongest status (several detectors read
    the same message). ``sign_of`` maps a mention's sign; ``None`` leaves the mention out."""
    best: dict[str, Status] = {}
    for reading in readings:
        for mention in reading.mentions:
            sign = sign_of(mention.sign)
            if sign is None:
                continue
            known = best.get(sign)
            if known is None or STRENGTH[mention.status] < STRENGTH[known]:
                best[sign] = mention.status
    return best


NOTHING = Reading()
UNREADABLE = Reading(failed=True)


class Detector(Protocol):
    @property
    def language(self) -> str:
        """The language of the lexicon, e.g. ``en``."""
        ...

    @property
    def signs(self) -> frozenset[str]:
        """Every sign id the lexicon has rules for."""
        ...

    def read(self, text: str) -> Reading:
        """Read one message. Must be fast (called for every text) and never raise."""
        ...
