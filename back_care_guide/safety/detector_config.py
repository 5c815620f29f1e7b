"""Read and validate a detector lexicon (``flows/detector/<lang>.yaml``).

The file is parsed at the YAML node level rather than with ``safe_load`` so that every
error can name the file, the line and the key, for example::

    flows/detector/en.yaml:212: signs.leg_numbness.rules[1].all: unknown concept 'nmb'

The lexicon is clinical content: an unknown concept or a misspelt key must stop the bot
from starting instead of silently weakening the detector. Which sign ids must be present
is checked against ``flows/triage.yaml`` by ``python -m back_care_guide check``, not here: the loader
knows nothing about tiers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass
from enum import StrEnum
from itertools import product
from pathlib import Path
from typing import NoReturn, TypeVar

import yaml

from back_care_guide.safety.detector_lexicon import Cue
from back_care_guide.safety.text_fuzzy import Band
from back_care_guide.safety.text_normalize import phrase_tokens

T = TypeVar("T")

_SLOT = re.compile(r"\{([a-z0-9_]+)\}")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PHRASE_CUES = tuple(Cue)


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
    origin: str
    language: str
    fuzzy: FuzzyConfig
    cues: CueConfig
    concepts: tuple[Concept, ...]
    signs: tuple[SignRules, ...]  # in file order: the order of a reading's mentions


def load_config(path: Path) -> DetectorConfig:
    """Read a lexicon file; raises ``ValueError`` naming file, line and key on errors."""
    return parse_config(path.read_text(encoding="utf-8"), str(path))


def parse_config(text: str, origin: str) -> DetectorConfig:
    """Parse lexicon YAML text; ``origin`` names the source in error messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ValueError(f"{origin}{line}: (document): invalid YAML: {error}") from None
    return _Reader(origin).document(root)


class _Reader:
    """Typed access to YAML nodes that reports errors as ``file:line: key: problem``."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self._slots: dict[str, tuple[str, ...]] = {}
        self._concepts: set[str] = set()
        # Line of the key that holds a value node: "signs:" rather than its first child.
        self._key_lines: dict[int, int] = {}

    def fail(self, node: yaml.Node | None, key: str, problem: str) -> NoReturn:
        if node is None:
            raise ValueError(f"{self.origin}: {key}: {problem}")
        line = self._key_lines.get(id(node), node.start_mark.line) + 1
        raise ValueError(f"{self.origin}:{line}: {key}: {problem}")

    # --- the document --------------------------------------------------------------------

    def document(self, root: yaml.Node | None) -> DetectorConfig:
        if root is None:
            self.fail(None, "(document)", "the file is empty")
        fields = self.mapping(
            root, "(document)", required={"language", "fuzzy", "cues", "concepts", "signs"},
            optional={"version", "slots"},
        )
        if "slots" in fields:
            self._slots = self.slots(fields["slots"], "slots")
        concepts = self.concepts(fields["concepts"], "concepts")
        self._concepts = {concept.name for concept in concepts}
        return DetectorConfig(
            origin=self.origin,
            language=self.string(fields["language"], "language"),
            fuzzy=self.fuzzy(fields["fuzzy"], "fuzzy"),
            cues=self.cues(fields["cues"], "cues"),
            concepts=concepts,
            signs=self.signs(fields["signs"], "signs"),
        )

    def fuzzy(self, node: yaml.Node, key: str) -> FuzzyConfig:
        fields = self.mapping(
            node,
            key,
            required={"bands", "same_first_letter"},
            optional={"never_correct", "phrase_words"},
        )
        bands = self.sequence(fields["bands"], f"{key}.bands", self.band)
        never = fields.get("never_correct")
        phrase_words = fields.get("phrase_words")
        return FuzzyConfig(
            bands=bands,
            same_first_letter=self.boolean(fields["same_first_letter"], f"{key}.same_first_letter"),
            never_correct=frozenset(self.words(never, f"{key}.never_correct") if never else ()),
            phrase_words=frozenset(
                self.words(phrase_words, f"{key}.phrase_words") if phrase_words else ()
            ),
        )

    def band(self, node: yaml.Node, key: str) -> Band:
        fields = self.mapping(node, key, required={"min_length", "max_distance"})
        min_length = self.integer(fields["min_length"], f"{key}.min_length", minimum=1)
        max_distance = self.integer(fields["max_distance"], f"{key}.max_distance", minimum=0)
        if max_distance > 2:
            self.fail(fields["max_distance"], f"{key}.max_distance", "at most 2 is supported")
        return Band(min_length, max_distance)

    def slots(self, node: yaml.Node, key: str) -> dict[str, tuple[str, ...]]:
        slots: dict[str, tuple[str, ...]] = {}
        for name, value in self.named(node, key).items():
            values = self.strings(value, f"{key}.{name}")
            if any(_SLOT.search(item) for item in values):
                self.fail(value, f"{key}.{name}", "a slot value cannot use another slot")
            slots[name] = values
        return slots

    def cues(self, node: yaml.Node, key: str) -> CueConfig:
        lists = {"question_starters", "question_words", "report", "report_blockers"}
        contexts = {context.value for context in Context}
        fields = self.mapping(
            node,
            key,
            required={cue.value for cue in _PHRASE_CUES} | lists | contexts | {"negation_window"},
        )
        return CueConfig(
            phrases={cue: self.phrases(fields[cue.value], f"{key}.{cue.value}") for cue in Cue},
            negation_window=self.integer(
                fields["negation_window"], f"{key}.negation_window", minimum=1
            ),
            question_starters=self.phrases(fields["question_starters"], f"{key}.question_starters"),
            question_words=self.phrases(fields["question_words"], f"{key}.question_words"),
            report=self.phrases(fields["report"], f"{key}.report"),
            report_blockers=self.phrases(fields["report_blockers"], f"{key}.report_blockers"),
            context={
                context: self.phrases(fields[context.value], f"{key}.{context.value}")
                for context in Context
            },
        )

    def concepts(self, node: yaml.Node, key: str) -> tuple[Concept, ...]:
        concepts = []
        for name, value in self.named(node, key).items():
            fields = self.mapping(
                value, f"{key}.{name}", required={"terms"}, optional={"fuzzy", "negatable"}
            )
            fuzzy = fields.get("fuzzy")
            negatable = fields.get("negatable")
            concepts.append(
                Concept(
                    name=name,
                    terms=self.phrases(fields["terms"], f"{key}.{name}.terms"),
                    fuzzy=self.boolean(fuzzy, f"{key}.{name}.fuzzy") if fuzzy else False,
                    negatable=(
                        self.boolean(negatable, f"{key}.{name}.negatable") if negatable else True
                    ),
                )
            )
        return tuple(concepts)

    def signs(self, node: yaml.Node, key: str) -> tuple[SignRules, ...]:
        return tuple(
            self.sign(value, f"{key}.{name}", name)
            for name, value in self.named(node, key).items()
        )

    def sign(self, node: yaml.Node, key: str, name: str) -> SignRules:
        fields = self.mapping(node, key, required={"rules"}, optional={"partial", "history"})
        partial = fields.get("partial")
        history = fields.get("history")
        return SignRules(
            sign=name,
            rules=self.sequence(fields["rules"], f"{key}.rules", self.rule),
            partial=self.sequence(partial, f"{key}.partial", self.rule) if partial else (),
            history=self.history(history, f"{key}.history") if history else History.HEDGED,
        )

    def history(self, node: yaml.Node, key: str) -> History:
        value = self.string(node, key)
        if value not in set(History):
            allowed = ", ".join(history.value for history in History)
            self.fail(node, key, f"unknown value {value!r} (allowed: {allowed})")
        return History(value)

    def rule(self, node: yaml.Node, key: str) -> Rule:
        fields = self.mapping(node, key, required={"all"}, optional={"unless"})
        groups = self.sequence(fields["all"], f"{key}.all", self.concept_group)
        unless = fields.get("unless")
        return Rule(
            key=groups[0],
            context=groups[1:],
            unless=self.concept_group(unless, f"{key}.unless") if unless else frozenset(),
        )

    def concept_group(self, node: yaml.Node, key: str) -> frozenset[str]:
        names = (self.string(node, key),) if isinstance(node, yaml.ScalarNode) else (
            self.strings(node, key)
        )
        for name in names:
            if name not in self._concepts:
                self.fail(node, key, f"unknown concept {name!r}")
        return frozenset(names)

    # --- phrases -------------------------------------------------------------------------

    def phrases(self, node: yaml.Node, key: str) -> tuple[str, ...]:
        """A list of phrases with ``{slot}`` templates expanded."""
        expanded: list[str] = []
        for item, phrase in zip(self.items(node, key), self.strings(node, key), strict=True):
            for variant in self.expand(item, key, phrase):
                if not phrase_tokens(variant):
                    self.fail(item, key, f"phrase {phrase!r} has no words")
                expanded.append(variant)
        return tuple(dict.fromkeys(expanded))

    def expand(self, node: yaml.Node, key: str, phrase: str) -> list[str]:
        names = _SLOT.findall(phrase)
        for name in names:
            if name not in self._slots:
                self.fail(node, key, f"unknown slot {{{name}}} in {phrase!r}")
        pieces = _SLOT.split(phrase)  # literal, name, literal, name, ..., literal
        choices = [
            (piece,) if index % 2 == 0 else self._slots[piece]
            for index, piece in enumerate(pieces)
        ]
        return [" ".join("".join(parts).split()) for parts in product(*choices)]

    def words(self, node: yaml.Node, key: str) -> tuple[str, ...]:
        words = self.strings(node, key)
        for word in words:
            if len(phrase_tokens(word)) != 1:
                self.fail(node, key, f"{word!r} is not a single word")
        return tuple(phrase_tokens(word)[0] for word in words)

    # --- YAML node access ------------------------------------------------------------------

    def mapping(
        self, node: yaml.Node, key: str, required: set[str], optional: Set[str] = frozenset()
    ) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, key, "expected a mapping")
        fields: dict[str, yaml.Node] = {}
        for key_node, value in node.value:
            name = self.string(key_node, key)
            if name in fields:
                self.fail(key_node, f"{key}.{name}", "duplicate key")
            if name not in required | optional:
                allowed = ", ".join(sorted(required | optional))
                self.fail(key_node, f"{key}.{name}", f"unknown key (allowed: {allowed})")
            self._key_lines[id(value)] = key_node.start_mark.line
            fields[name] = value
        for name in sorted(required - fields.keys()):
            self.fail(node, f"{key}.{name}", "required key is missing")
        return fields

    def named(self, node: yaml.Node, key: str) -> dict[str, yaml.Node]:
        """A mapping whose keys are names chosen by the author (concepts, slots, signs)."""
        if not isinstance(node, yaml.MappingNode) or not node.value:
            self.fail(node, key, "expected a non-empty mapping")
        fields: dict[str, yaml.Node] = {}
        for key_node, value in node.value:
            name = self.string(key_node, key)
            if not _NAME.match(name):
                self.fail(key_node, f"{key}.{name}", "names use lower-case letters, digits, _")
            if name in fields:
                self.fail(key_node, f"{key}.{name}", "duplicate key")
            self._key_lines[id(value)] = key_node.start_mark.line
            fields[name] = value
        return fields

    def items(self, node: yaml.Node, key: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.fail(node, key, "expected a non-empty list")
        return list(node.value)

    def sequence(
        self, node: yaml.Node, key: str, read: Callable[[yaml.Node, str], T]
    ) -> tuple[T, ...]:
        return tuple(read(item, f"{key}[{i}]") for i, item in enumerate(self.items(node, key)))

    def strings(self, node: yaml.Node, key: str) -> tuple[str, ...]:
        return self.sequence(node, key, self.string)

    def string(self, node: yaml.Node, key: str) -> str:
        """The scalar's text as written: a phrase ``no`` or ``on`` is a word, not a bool."""
        if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
            self.fail(node, key, "expected a string")
        value = str(node.value).strip()
        if not value:
            self.fail(node, key, "empty string")
        return value

    def integer(self, node: yaml.Node, key: str, minimum: int) -> int:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:int":
            self.fail(node, key, "expected an integer")
        value = int(node.value)
        if value < minimum:
            self.fail(node, key, f"must be at least {minimum}")
        return value

    def boolean(self, node: yaml.Node, key: str) -> bool:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:bool":
            self.fail(node, key, "expected true or false")
        return str(node.value).lower() in {"true", "yes", "on"}
