"""Read and validate a detector lexicon (``flows/detector/<lang>.yaml``).

The lexicon goes through the one data loader, so every error names the file, the line and
the key, for example::

    flows/detector/en.yaml:212: signs.leg_numbness.rules.1.all.0: unknown concept 'nmb'

Pydantic checks the shape; :class:`_Builder` then expands ``{slot}`` templates and
resolves concept names. The lexicon is clinical content: an unknown concept or a misspelt
key must stop the bot from starting instead of silently weakening the detector. Which sign
ids must be present is checked against ``flows/triage.yaml`` by ``python -m back_care_guide
check``, not here: the loader knows nothing about tiers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import product
from pathlib import Path
from typing import Annotated

from pydantic import Field, StringConstraints

from back_care_guide.data import KeyPath, Loaded, Source, StrictModel, load
from back_care_guide.safety.detector_lexicon import Cue
from back_care_guide.safety.text_fuzzy import Band
from back_care_guide.safety.text_normalize import phrase_tokens

_SLOT = re.compile(r"\{([a-z0-9_]+)\}")


@dataclass(frozen=True, slots=True)
class FuzzyConfig:
    bands: tuple[Band, ...]
    same_first_letter: bool
    never_correct: frozenset[str]
    phrase_words: frozenset[str]  # words inside phrases that tolerate typos too


class Context(StrEnum):
    """Cues about who has a symptom and when, read apart from the terms (see the lexicon)."""

    PAST = "past"  # distant or undated past: "years ago", "used to", "as a child"
    RECENT = "past_recent"  # recent past: "last week", "a few days ago"
    RESOLVED = "resolved"  # said to be over: "went away", "cleared up", "not any more"
    ONGOING = "ongoing"  # still there: "still", "since last week", "ever since"
    SELF = "first_person"  # the writer: "i", "my", "me"
    OTHER = "other_person"  # someone else: "my mum", "her", "my friends"


class History(StrEnum):
    """How a sign treats symptoms placed in the past (``history:`` of a sign)."""

    HEDGED = "hedged"  # default: the past is hedged, the resolved past is not a mention
    COUNTS = "counts"  # history is the sign itself (cancer, surgery): the past counts
    RECENT = "recent"  # the recent past counts (an injury last week); older is hedged


@dataclass(frozen=True, slots=True)
class CueConfig:
    phrases: Mapping[Cue, tuple[str, ...]]
    negation_window: int
    question_starters: tuple[str, ...]
    question_words: tuple[str, ...]  # starters that need no "?" to open a question
    report: tuple[str, ...]
    report_blockers: tuple[str, ...]
    context: Mapping[Context, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Concept:
    name: str
    terms: tuple[str, ...]
    fuzzy: bool
    negatable: bool  # False for anchors (where, when): negation is about findings


@dataclass(frozen=True, slots=True)
class Rule:
    """Fires when ``key`` is asserted and every ``context`` group is present too.

    ``key`` is the symptom: it must not be negated, and its clause decides whether the
    mention is definite or hedged. Each context group (a body part, a travel word) must
    be present, not negated, and come from a different phrase than the key. Any
    non-negated ``unless`` concept in the sentence cancels the rule.
    """

    key: frozenset[str]
    context: tuple[frozenset[str], ...]
    unless: frozenset[str]


@dataclass(frozen=True, slots=True)
class SignRules:
    sign: str  # a sign id of flows/triage.yaml
    rules: tuple[Rule, ...]
    partial: tuple[Rule, ...]  # a partial mention is at most hedged
    history: History


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    language: str
    fuzzy: FuzzyConfig
    cues: CueConfig
    concepts: tuple[Concept, ...]
    signs: tuple[SignRules, ...]  # in file order: the order of a reading's mentions


def load_config(path: Path) -> Loaded[DetectorConfig]:
    """Read a lexicon file; a :class:`~back_care_guide.data.DataError` names file, line and key.

    Every scalar is read as written (``no`` and ``7`` are words here, see
    :func:`~back_care_guide.data.load_source`).
    """
    lexicon = load(path, _Lexicon, plain_text=True)
    return Loaded(_Builder(lexicon.source, lexicon.value).config(), lexicon.source)


# --- the schema --------------------------------------------------------------------------

_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
_Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
_Phrases = Annotated[tuple[_Text, ...], Field(min_length=1)]
_ConceptGroup = _Text | _Phrases  # one concept name or a list: any of them


class _Band(StrictModel):
    min_length: int = Field(ge=1)
    max_distance: int = Field(ge=0, le=2)


class _Fuzzy(StrictModel):
    bands: tuple[_Band, ...] = Field(min_length=1)
    same_first_letter: bool
    never_correct: _Phrases = ()
    phrase_words: _Phrases = ()


class _Cues(StrictModel):
    """One list of phrases per :class:`Cue` and :class:`Context`, and the question cues."""

    negation_window: int = Field(ge=1)
    negation_pre: _Phrases
    negation_post: _Phrases
    negation_post_final: _Phrases
    terminators: _Phrases
    hedges: _Phrases
    pseudo: _Phrases
    question_starters: _Phrases
    question_words: _Phrases
    report: _Phrases
    report_blockers: _Phrases
    past: _Phrases
    past_recent: _Phrases
    resolved: _Phrases
    ongoing: _Phrases
    first_person: _Phrases
    other_person: _Phrases


class _Concept(StrictModel):
    terms: _Phrases
    fuzzy: bool = False
    negatable: bool = True


class _Rule(StrictModel):
    all: tuple[_ConceptGroup, ...] = Field(min_length=1)
    unless: _ConceptGroup | None = None


class _Sign(StrictModel):
    rules: tuple[_Rule, ...] = Field(min_length=1)
    partial: tuple[_Rule, ...] = Field(default=(), min_length=1)
    history: History = History.HEDGED


class _Lexicon(StrictModel):
    version: int = 1
    language: _Text
    slots: dict[_Name, _Phrases] = Field(default_factory=dict)
    fuzzy: _Fuzzy
    cues: _Cues
    concepts: dict[_Name, _Concept] = Field(min_length=1)
    signs: dict[_Name, _Sign] = Field(min_length=1)


# --- from the schema to the detector's configuration ---------------------------------------


class _Builder:
    """Expands slots and resolves concept names; errors point at the phrase or name."""

    def __init__(self, source: Source, lexicon: _Lexicon) -> None:
        self.source = source
        self.lexicon = lexicon
        self.concept_names = frozenset(lexicon.concepts)
        for name, values in lexicon.slots.items():
            for i, value in enumerate(values):
                if _SLOT.search(value):
                    raise source.error(("slots", name, i), "a slot value cannot use another slot")

    def config(self) -> DetectorConfig:
        lexicon, cues = self.lexicon, self.lexicon.cues

        def phrases(name: str) -> tuple[str, ...]:
            return self.phrases(("cues", name), getattr(cues, name))

        return DetectorConfig(
            language=lexicon.language,
            fuzzy=FuzzyConfig(
                bands=tuple(Band(band.min_length, band.max_distance) for band in lexicon.fuzzy.bands),
                same_first_letter=lexicon.fuzzy.same_first_letter,
                never_correct=self.words(("fuzzy", "never_correct"), lexicon.fuzzy.never_correct),
                phrase_words=self.words(("fuzzy", "phrase_words"), lexicon.fuzzy.phrase_words),
            ),
            cues=CueConfig(
                phrases={cue: phrases(cue.value) for cue in Cue},
                negation_window=cues.negation_window,
                question_starters=phrases("question_starters"),
                question_words=phrases("question_words"),
                report=phrases("report"),
                report_blockers=phrases("report_blockers"),
                context={context: phrases(context.value) for context in Context},
            ),
            concepts=tuple(
                Concept(name, self.phrases(("concepts", name, "terms"), concept.terms),
                        concept.fuzzy, concept.negatable)
                for name, concept in lexicon.concepts.items()
            ),
            signs=tuple(
                SignRules(name, self.rules(("signs", name, "rules"), sign.rules),
                          self.rules(("signs", name, "partial"), sign.partial), sign.history)
                for name, sign in lexicon.signs.items()
            ),
        )

    def phrases(self, path: KeyPath, items: Sequence[str]) -> tuple[str, ...]:
        """The phrases with ``{slot}`` templates expanded, without repeats."""
        expanded: list[str] = []
        for i, phrase in enumerate(items):
            for variant in self.expand((*path, i), phrase):
                if not phrase_tokens(variant):
                    raise self.source.error((*path, i), f"phrase {phrase!r} has no words")
                expanded.append(variant)
        return tuple(dict.fromkeys(expanded))

    def expand(self, path: KeyPath, phrase: str) -> list[str]:
        slots = self.lexicon.slots
        for name in _SLOT.findall(phrase):
            if name not in slots:
                raise self.source.error(path, f"unknown slot {{{name}}} in {phrase!r}")
        pieces = _SLOT.split(phrase)  # literal, name, literal, name, ..., literal
        choices = [(piece,) if index % 2 == 0 else slots[piece] for index, piece in enumerate(pieces)]
        return [" ".join("".join(parts).split()) for parts in product(*choices)]

    def words(self, path: KeyPath, items: Sequence[str]) -> frozenset[str]:
        words: set[str] = set()
        for i, word in enumerate(items):
            tokens = phrase_tokens(word)
            if len(tokens) != 1:
                raise self.source.error((*path, i), f"{word!r} is not a single word")
            words.add(tokens[0])
        return frozenset(words)

    def rules(self, path: KeyPath, rules: Sequence[_Rule]) -> tuple[Rule, ...]:
        built = []
        for i, rule in enumerate(rules):
            groups = [self.group((*path, i, "all", j), group) for j, group in enumerate(rule.all)]
            unless = self.group((*path, i, "unless"), rule.unless) if rule.unless else frozenset()
            built.append(Rule(key=groups[0], context=tuple(groups[1:]), unless=unless))
        return tuple(built)

    def group(self, path: KeyPath, group: str | tuple[str, ...]) -> frozenset[str]:
        names = (group,) if isinstance(group, str) else group
        for i, name in enumerate(names):
            if name not in self.concept_names:
                where = path if isinstance(group, str) else (*path, i)
                raise self.source.error(where, f"unknown concept {name!r}")
        return frozenset(names)
