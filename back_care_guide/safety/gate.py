"""The safety gate: no language ships with a weaker red-flag net than English.

Every language has a labelled corpus of its own (``flows/corpora/<language>.yaml``: the
phrasings a person might type, each with the sign it reports, and negatives that report
none). ``check`` and the bot's start measure the language's detector on it, together with the
English one, as triage reads a message (:meth:`Triage._detectors`), and refuse a language that
misses the targets:

* every emergency and urgent phrasing caught: a DEFINITE mention of an emergency or urgent
  sign, or a HEDGED mention of the listed sign (triage then asks one question first);
* at most :data:`MAX_FALSE_ALARMS` of the negatives give any DEFINITE or HEDGED mention.

The corpus format (sections, ``expect``, negative kinds) is described in the English
corpus's header.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from back_care_guide.data import DataError, Source, load
from back_care_guide.safety.detection import Detector, Mention, Reading, Status, strongest

MIN_PHRASES = 150
MAX_FALSE_ALARMS = 0.05
SEVERE = frozenset({"emergency", "urgent"})
REPORTED = frozenset({Status.DEFINITE, Status.HEDGED})
Section = Literal["emergency", "urgent", "clinician", "stop_today", "negative"]
SECTIONS: tuple[Section, ...] = ("emergency", "urgent", "clinician", "stop_today", "negative")


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    sign: str | tuple[str, ...] = ()
    expect: Literal["definite", "hedged_ok"] | None = None
    kind: Literal["negated", "question", "stretch", "chat", "resolved_past", "other_person",
                  "number"] | None = None


class CorpusFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    emergency: tuple[_Entry, ...] = ()
    urgent: tuple[_Entry, ...] = ()
    clinician: tuple[_Entry, ...] = ()
    stop_today: tuple[_Entry, ...] = ()
    negative: tuple[_Entry, ...] = ()


@dataclass(frozen=True)
class Case:
    """One labelled phrasing."""

    section: Section
    text: str
    signs: tuple[str, ...] = ()
    expect: str = ""
    kind: str = ""
    path: tuple[str | int, ...] = ()  # where it is in its file

    @property
    def category(self) -> str:
        return f"negative/{self.kind}" if self.section == "negative" else f"{self.section}/{self.signs[0]}"


@dataclass(frozen=True)
class Corpus:
    language: str
    cases: tuple[Case, ...]
    source: Source


def load_corpus(file: Path) -> Corpus:
    loaded = load(file, CorpusFile, plain_text=True)
    cases: list[Case] = []
    for section in SECTIONS:
        for i, entry in enumerate(getattr(loaded.value, section)):
            signs = (entry.sign,) if isinstance(entry.sign, str) else tuple(entry.sign)
            if section != "negative" and not signs:
                raise loaded.source.error((section, i, "sign"), "a positive phrasing names its sign")
            expect = entry.expect or ("definite" if section in SEVERE else "")
            cases.append(Case(section, entry.text, signs, expect, entry.kind or "", (section, i)))
    return Corpus(file.stem, tuple(cases), loaded.source)


def caught(case: Case, reading: Reading, tiers: Mapping[str, str]) -> bool:
    """Whether the reading does enough for the phrasing (see the module docstring)."""
    def severe_definite() -> bool:
        return any(m.status is Status.DEFINITE and tiers.get(m.sign) in SEVERE
                   for m in reading.mentions)

    def named() -> bool:
        return any(reading.status(sign) in REPORTED for sign in case.signs)

    if case.section in SEVERE:
        return severe_definite() or named()
    if case.section == "clinician":
        return named() or any(m.status in REPORTED and tiers.get(m.sign) in SEVERE
                              for m in reading.mentions)
    if case.section == "stop_today":
        return any(m.status in REPORTED for m in reading.mentions)
    return not any(m.status in REPORTED for m in reading.mentions)


def combined(readings: Sequence[Reading]) -> Reading:
    """What triage sees from several detectors: each sign once, at its strongest status."""
    return Reading(mentions=tuple(Mention(sign, status)
                                  for sign, status in strongest(readings).items()))


@dataclass(frozen=True)
class Measure:
    """A language's detectors on its corpus."""

    language: str
    severe: int
    severe_missed: tuple[Case, ...]
    negatives: int
    false_alarms: tuple[Case, ...]

    @property
    def recall(self) -> float:
        return 1.0 - len(self.severe_missed) / self.severe if self.severe else 0.0

    @property
    def false_alarm_rate(self) -> float:
        return len(self.false_alarms) / self.negatives if self.negatives else 1.0


def measure(corpus: Corpus, detectors: Sequence[Detector], tiers: Mapping[str, str]) -> Measure:
    severe, negatives = 0, 0
    missed: list[Case] = []
    alarms: list[Case] = []
    for case in corpus.cases:
        reading = combined([detector.read(case.text) for detector in detectors])
        if case.section in SEVERE:
            severe += 1
            if not caught(case, reading, tiers):
                missed.append(case)
        elif case.section == "negative":
            negatives += 1
            if not caught(case, reading, tiers):
                alarms.append(case)
    return Measure(corpus.language, severe, tuple(missed), negatives, tuple(alarms))


def gate(corpus: Corpus, found: Measure) -> list[DataError]:
    """The problems that keep the language from shipping, each at the phrasing's line."""
    src = corpus.source
    errors: list[DataError] = []
    if len(corpus.cases) < MIN_PHRASES:
        errors.append(src.error((), f"{len(corpus.cases)} phrasings; a language needs at least "
                                    f"{MIN_PHRASES}, negatives included"))
    for case in found.severe_missed:
        errors.append(src.error(case.path, f"red flag not caught ({case.signs[0]}): the "
                                           f"{corpus.language} detector misses {case.text!r}"))
    if found.false_alarm_rate > MAX_FALSE_ALARMS:
        errors.append(src.error(("negative",), f"{found.false_alarm_rate:.0%} false alarms on "
                                               f"{found.negatives} negatives, over "
                                               f"{MAX_FALSE_ALARMS:.0%}"))
    return errors
