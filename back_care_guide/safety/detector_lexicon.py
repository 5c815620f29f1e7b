"""Phrase matching for the keyword detector.

All lexicon phrases (concept terms and cue phrases) go into one token trie. A message
is read left to right, taking the longest phrase that starts at each position and
consuming its tokens. Consuming is what lets the lexicon say that "cant feel" is a
symptom rather than the negation cue "cant" followed by "feel", or that "not sure" is a
hedge rather than a negation: the longer phrase wins and its words are spent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Cue(StrEnum):
    """Roles a phrase can play besides naming a concept."""

    NEG_PRE = "negation_pre"  # negates what follows: "no", "dont have"
    NEG_POST = "negation_post"  # negates what precedes: "has gone", "went away"
    NEG_POST_FINAL = "negation_post_final"  # negates what precedes, only at a clause end
    TERMINATOR = "terminators"  # ends a negation scope and a clause: "but", "just"
    HEDGE = "hedges"  # uncertainty in the clause: "i think", "a bit", "might"
    PSEUDO = "pseudo"  # looks like a cue or term but is neither: "lie down", "no idea"


@dataclass(frozen=True, slots=True)
class Labels:
    """What a phrase means: cue roles and concept names (usually exactly one of them)."""

    cues: frozenset[Cue] = frozenset()
    concepts: frozenset[str] = frozenset()

    def merged(self, other: Labels) -> Labels:
        return Labels(self.cues | other.cues, self.concepts | other.concepts)


@dataclass(frozen=True, slots=True)
class Match:
    """A phrase found in a sentence: tokens ``start`` up to (not including) ``end``."""

    start: int
    end: int
    labels: Labels


class _Node:
    __slots__ = ("children", "labels")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.labels: Labels | None = None


class PhraseTrie:
    """A trie of token sequences; matching follows every form a typed token may have."""

    def __init__(self) -> None:
        self._root = _Node()
        self._words: set[str] = set()

    @property
    def words(self) -> frozenset[str]:
        """Every token that occurs in some phrase."""
        return frozenset(self._words)

    def add(self, tokens: Sequence[str], labels: Labels) -> None:
        node = self._root
        for token in tokens:
            node = node.children.setdefault(token, _Node())
            self._words.add(token)
        node.labels = labels if node.labels is None else node.labels.merged(labels)

    def longest(self, forms: Sequence[tuple[str, ...]], start: int) -> Match | None:
        """The longest phrase starting at ``start``; ``forms[i]`` are token i's readings."""
        best: Match | None = None
        frontier = [self._root]
        position = start
        while frontier and position < len(forms):
            frontier = [
                child
                for node in frontier
                for form in forms[position]
                if (child := node.children.get(form)) is not None
            ]
            position += 1
            for node in frontier:
                if node.labels is not None:
                    labels = node.labels if best is None or best.end != position else (
                        best.labels.merged(node.labels)
                    )
                    best = Match(start, position, labels)
        return best

    def scan(self, forms: Sequence[tuple[str, ...]]) -> list[Match]:
        """Greedy longest-first, left-to-right, non-overlapping matches."""
        matches: list[Match] = []
        position = 0
        while position < len(forms):
            match = self.longest(forms, position)
            if match is None:
                position += 1
            else:
                matches.append(match)
                position = match.end
        return matches
