"""Bounded-typo lookup of single words against a fixed vocabulary.

Uses the symmetric-deletion idea (as in SymSpell): every vocabulary word is indexed
under all strings obtained by deleting up to its allowed number of characters, and a
typed token is looked up under its own deletions. Any pair within optimal string
alignment (restricted Damerau-Levenshtein) distance ``d`` shares a deletion of at most
``d`` characters from each side, so the index never misses a candidate; each candidate
is then confirmed with the real distance. Lookups are O(deletions), not O(vocabulary),
which keeps a message well under a millisecond.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Band:
    """Words of at least ``min_length`` characters may differ by ``max_distance`` edits."""

    min_length: int
    max_distance: int


def osa_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, swaps."""
    if a == b:
        return 0
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i, *([0] * len(b))]
        for j, char_b in enumerate(b, start=1):
            cost = 0 if char_a == char_b else 1
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                best = min(best, previous2[j - 2] + 1)
            current[j] = best
        previous2, previous = previous, current
    return previous[-1]


def deletions(word: str, depth: int) -> set[str]:
    """``word`` and every string made from it by deleting up to ``depth`` characters."""
    variants = {word}
    level = {word}
    for _ in range(min(depth, len(word))):  # one more character gone per level
        level = {text[:i] + text[i + 1:] for text in level for i in range(len(text))}
        variants |= level
    return variants


class FuzzyIndex:
    """Maps a typed token to the vocabulary words it most plausibly means."""

    def __init__(
        self,
        vocabulary: Iterable[str],
        fuzzy_words: Iterable[str],
        bands: Sequence[Band],
        *,
        same_first_letter: bool,
        never_correct: Iterable[str],
        cache_size: int = 8192,
    ) -> None:
        self._vocabulary = frozenset(vocabulary)
        self._bands = tuple(sorted(bands, key=lambda band: band.min_length))
        self._same_first_letter = same_first_letter
        self._never_correct = frozenset(never_correct)
        self._cache: dict[str, tuple[str, ...]] = {}
        self._cache_size = cache_size
        self._index: dict[str, set[str]] = {}
        for word in set(fuzzy_words):
            for variant in deletions(word, self.allowed_distance(word)):
                self._index.setdefault(variant, set()).add(word)
        self._max_distance = max((band.max_distance for band in self._bands), default=0)
        self._longest = max((len(word) for word in self._index), default=0) + self._max_distance

    def allowed_distance(self, word: str) -> int:
        """Edits a vocabulary word tolerates; short words tolerate none."""
        if not word.isalpha():
            return 0
        allowed = 0
        for band in self._bands:
            if len(word) >= band.min_length:
                allowed = band.max_distance
        return allowed

    def forms(self, token: str) -> tuple[str, ...]:
        """Vocabulary words ``token`` stands for: itself if known, else close typos."""
        if token in self._vocabulary:
            return (token,)
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        found = self._lookup(token)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[token] = found
        return found

    def _lookup(self, token: str) -> tuple[str, ...]:
        if len(token) > self._longest or token in self._never_correct or not token.isalpha():
            return ()
        depth = self._input_depth(len(token))
        if depth == 0:
            return ()
        candidates: set[str] = set()
        for variant in deletions(token, depth):
            candidates |= self._index.get(variant, set())
        return tuple(sorted(word for word in candidates if self._accepts(token, word)))

    def _input_depth(self, length: int) -> int:
        """Deletions to try on a typed token: enough to reach any band it could match."""
        depth = 0
        for band in self._bands:
            if length + band.max_distance >= band.min_length:
                depth = max(depth, band.max_distance)
        return min(depth, self._max_distance)

    def _accepts(self, token: str, word: str) -> bool:
        # A typo in the first letter is rare, while real words that differ from a term
        # only there are common ("single"/"tingle", "towel"/"bowel"): require it to match.
        if self._same_first_letter and token[0] != word[0]:
            return False
        allowed = self.allowed_distance(word)
        if abs(len(token) - len(word)) > allowed:
            return False
        return osa_distance(token, word) <= allowed
