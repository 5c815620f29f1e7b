"""The keyword detector: red-flag signs in free text, driven by a YAML lexicon.

It only *reads*: which signs a message mentions, and how (:mod:`back_care_guide.safety.detection`).
What a reading means for the person is decided by :mod:`back_care_guide.safety.triage`.

How a message is read (ConText/NegEx-style, see ``flows/detector/en.yaml``):

1. Split into sentences; tokenize (case, apostrophes, accents, invisible characters and
   width folded).
2. Map each token to lexicon words, allowing bounded typos on words of fuzzy concepts.
3. Take the longest lexicon phrase at each position (terms, and the cues that modify
   them: negation, hedges, scope terminators, pseudo-cues).
4. Split the sentence into clauses at commas and terminators ("but", "just", ...).
5. Negation cues negate the phrases within ``negation_window`` words after (or, for
   post-cues, before and in the same clause) them, stopping at a terminator. Anchor
   concepts (``negatable: false``: body parts, time words) are never negated: in
   "I can't sit on my bum, it's numb" the "cant" is about sitting, not about the bum.
6. Context cues are found in a separate pass over the plain words (they use up no term
   words): who has the symptom (first person, other person) and when (past, recent
   past, resolved, ongoing).
7. A clause is an *information question* when it opens with a question starter and the
   sentence holds no first-person report cue ("my", "i have"). A clause is *hedged* when
   it holds a hedge cue, opens with a question starter, or ends in "?".
8. Sign rules (a symptom key plus context concepts in the same sentence) are checked.
   For each key that fires, in this order:
   * negated: nothing;
   * in a clause about someone else with no word about the writer ("my mum lost control
     of her bladder"): nothing;
   * in an information question: QUESTION (partial rules are enough);
   * placed in the past and said to be over ("had numbness last year but it went
     away"): nothing, unless the sign's history counts (``history: counts``);
   * placed in the past without a word that it is over: HEDGED, unless the sign's
     history counts (or, with ``history: recent``, the past is recent);
   * a hedged clause or a partial rule: HEDGED; otherwise DEFINITE.
9. Each sign gets its strongest status in the whole message; mentions follow the order
   of the lexicon's ``signs:``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from back_care_guide.data import flows_dir
from back_care_guide.data.location import LEXICONS_DIR
from back_care_guide.safety.detection import NOTHING, STRENGTH, UNREADABLE, Mention, Reading, Status
from back_care_guide.safety.detector_config import Context, DetectorConfig, History, Rule, load_config
from back_care_guide.safety.detector_lexicon import Cue, Labels, Match, PhraseTrie
from back_care_guide.safety.text_fuzzy import FuzzyIndex
from back_care_guide.safety.text_normalize import COMMA, Sentence, phrase_tokens, split_sentences

__all__ = ["KeywordDetector", "default_detector", "load_detector"]

_LOG = logging.getLogger(__name__)
_NEGATIONS = frozenset({Cue.NEG_PRE, Cue.NEG_POST, Cue.NEG_POST_FINAL})
_REPORT = Labels(concepts=frozenset({"report"}))
_NOT_REPORT = Labels(concepts=frozenset({"not_report"}))
_STARTER = Labels(concepts=frozenset({"starter"}))
_PAST = frozenset({Context.PAST, Context.RECENT})


def load_detector(path: Path) -> KeywordDetector:
    """Build a detector from a lexicon file; a ``DataError`` names file, line and key."""
    return KeywordDetector(load_config(path).value)


def default_detector() -> KeywordDetector:
    """The English detector of the package's own data. Loading compiles the lexicon: do it
    once at start-up."""
    return load_detector(flows_dir() / LEXICONS_DIR / "en.yaml")


@dataclass(frozen=True, slots=True)
class _Hit:
    concept: str
    match: int  # index of the phrase in the sentence's matches
    clause: int
    negated: bool


@dataclass(frozen=True, slots=True)
class _Clause:
    hedged: bool
    info_question: bool
    context: frozenset[Context]  # who and when, from the context cues in this clause

    @property
    def someone_else(self) -> bool:
        """About another person, with no word about the writer ("my wife says my leg")."""
        return Context.OTHER in self.context and Context.SELF not in self.context


@dataclass(frozen=True, slots=True)
class _Facts:
    """What one sentence says, ready for the sign rules."""

    hits: tuple[_Hit, ...]
    clauses: tuple[_Clause, ...]
    only_negation: bool  # e.g. "none" or "no": an answer to the previous question
    asserted: dict[str, frozenset[int]]  # concept -> matches asserting it (not negated)
    context: frozenset[Context]  # every context cue of the sentence

    def asserted_elsewhere(self, group: frozenset[str], match: int) -> bool:
        """Whether a concept of ``group`` is asserted by a match other than ``match``."""
        for concept in group:
            found = self.asserted.get(concept)
            if found and (len(found) > 1 or match not in found):
                return True
        return False

    def resolved_from(self, clause: int) -> bool:
        """A "went away" cue in this clause or a later one (resolution follows the symptom)."""
        return any(Context.RESOLVED in c.context for c in self.clauses[clause:])


class KeywordDetector:
    """Rule-based red-flag reader; see the module docstring for how it reads text."""

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self._window = config.cues.negation_window
        self._anchors = frozenset(c.name for c in config.concepts if not c.negatable)
        self._terms = _term_trie(config)
        self._reports = _report_trie(config)
        self._contexts = _context_trie(config)
        self._starters = _plain_trie(config.cues.question_starters, _STARTER)
        self._question_words = _plain_trie(config.cues.question_words, _STARTER)
        self._negation_words = frozenset(
            tokens[0]
            for phrase in config.cues.phrases[Cue.NEG_PRE]
            if len(tokens := phrase_tokens(phrase)) == 1
        )
        # Only one-word terms tolerate typos: words inside phrases ("going", "there") are
        # everyday words whose neighbours are everyday words too.
        fuzzy_words = set(config.fuzzy.phrase_words) | {
            tokens[0]
            for concept in config.concepts
            if concept.fuzzy
            for term in concept.terms
            if len(tokens := phrase_tokens(term)) == 1
        }
        self._fuzzy = FuzzyIndex(
            self._terms.words,
            fuzzy_words,
            config.fuzzy.bands,
            same_first_letter=config.fuzzy.same_first_letter,
            never_correct=config.fuzzy.never_correct,
        )
        self._signs = frozenset(sign.sign for sign in config.signs)

    @property
    def language(self) -> str:
        return self.config.language

    @property
    def signs(self) -> frozenset[str]:
        return self._signs

    def read(self, text: str) -> Reading:
        """Read one message. Never raises.

        An internal error is logged (its type and the text's length, never the text) and
        read as ``UNREADABLE``: triage then asks about warning signs rather than silently
        ignoring what may be a red flag, and a bug can never take the conversation down.
        """
        try:
            return self._read(text)
        except Exception as error:  # the contract: never raise
            _LOG.error(
                "red-flag detector failed (%s) on a message of %d chars",
                type(error).__name__,
                len(text) if isinstance(text, str) else -1,
            )
            return UNREADABLE

    def read_as(self, word: str) -> tuple[str, ...]:
        """The lexicon words a typed word is read as (itself, typo corrections, or none).

        For reviewing the lexicon: it shows what typo tolerance does to a given word.
        """
        tokens = phrase_tokens(word)
        return self._forms(tokens[0]) if len(tokens) == 1 else ()

    # --- whole message -------------------------------------------------------------------

    def _read(self, text: str) -> Reading:
        sentences = split_sentences(text)
        facts = [self._facts(sentence) for sentence in sentences]
        best: dict[str, Status] = {}
        for index, sentence_facts in enumerate(facts):
            if _answered_no(sentences, facts, index):
                continue
            resolved_next = _resolves_previous(facts, index)
            for sign, status in self._sentence_statuses(sentence_facts, resolved_next):
                if sign not in best or STRENGTH[status] < STRENGTH[best[sign]]:
                    best[sign] = status
        if not best:
            return NOTHING
        return Reading(
            tuple(Mention(s.sign, best[s.sign]) for s in self.config.signs if s.sign in best)
        )

    def _sentence_statuses(
        self, facts: _Facts, resolved_next: bool
    ) -> list[tuple[str, Status]]:
        found = []
        for sign in self.config.signs:
            statuses = [
                status
                for partial, rules in ((False, sign.rules), (True, sign.partial))
                for rule in rules
                if (status := _rule_status(rule, facts, sign.history, partial, resolved_next))
            ]
            if statuses:
                found.append((sign.sign, min(statuses, key=STRENGTH.__getitem__)))
        return found

    # --- one sentence --------------------------------------------------------------------

    def _facts(self, sentence: Sentence) -> _Facts:
        tokens = sentence.tokens
        matches = self._terms.scan([self._forms(token) for token in tokens])
        clause_of = _clause_ids(tokens, matches)
        negated = _negations(tokens, matches, clause_of, self._window)
        hits = tuple(
            _Hit(
                concept,
                index,
                clause_of[match.start],
                negated[index] and concept not in self._anchors,
            )
            for index, match in enumerate(matches)
            for concept in match.labels.concepts
        )
        asserted: dict[str, set[int]] = {}
        for hit in hits:
            if not hit.negated:
                asserted.setdefault(hit.concept, set()).add(hit.match)
        clauses = self._clauses(sentence, matches, clause_of)
        return _Facts(
            hits=hits,
            clauses=clauses,
            only_negation=_only_negation(tokens, matches),
            asserted={concept: frozenset(found) for concept, found in asserted.items()},
            context=frozenset(c for clause in clauses for c in clause.context),
        )

    def _forms(self, token: str) -> tuple[str, ...]:
        return (token,) if token == COMMA else self._fuzzy.forms(token)

    def _clauses(
        self, sentence: Sentence, matches: Sequence[Match], clause_of: Sequence[int]
    ) -> tuple[_Clause, ...]:
        tokens = sentence.tokens
        raw = [(token,) for token in tokens]
        report = any(_REPORT.concepts <= match.labels.concepts for match in self._reports.scan(raw))
        hedged_clauses = {
            clause_of[match.start] for match in matches if Cue.HEDGE in match.labels.cues
        }
        context: dict[int, set[Context]] = {}
        for match in self._contexts.scan(raw):
            context.setdefault(clause_of[match.start], set()).update(
                Context(name) for name in match.labels.concepts
            )
        last = clause_of[-1] if clause_of else 0
        starts = _clause_starts(tokens, clause_of)
        clauses = []
        for clause in range(last + 1):
            start = starts.get(clause)
            starter = start is not None and self._opens_question(
                raw, start, asked=sentence.question_mark
            )
            ends_q = sentence.question_mark and clause == last
            clauses.append(
                _Clause(
                    hedged=clause in hedged_clauses or starter or ends_q,
                    info_question=starter and not report,
                    context=frozenset(context.get(clause, ())),
                )
            )
        return tuple(clauses)

    def _opens_question(self, raw: Sequence[tuple[str, ...]], start: int, *, asked: bool) -> bool:
        """A question starter at the clause start, unless negated ("could not feel").

        Without a "?" in the sentence only a question word opens a question: "was in a car
        crash" and "is week 3" are statements.
        """
        trie = self._starters if asked else self._question_words
        match = trie.longest(raw, start)
        if match is None:
            return False
        return match.end >= len(raw) or raw[match.end][0] not in self._negation_words


# --- compiling the lexicon ---------------------------------------------------------------


def _term_trie(config: DetectorConfig) -> PhraseTrie:
    trie = PhraseTrie()
    for concept in config.concepts:
        labels = Labels(concepts=frozenset({concept.name}))
        for term in concept.terms:
            trie.add(phrase_tokens(term), labels)
    for cue, phrases in config.cues.phrases.items():
        labels = Labels(cues=frozenset({cue}))
        for phrase in phrases:
            trie.add(phrase_tokens(phrase), labels)
    return trie


def _context_trie(config: DetectorConfig) -> PhraseTrie:
    """Who and when: scanned on the plain words, apart from the terms."""
    trie = PhraseTrie()
    for context, phrases in config.cues.context.items():
        labels = Labels(concepts=frozenset({context.value}))
        for phrase in phrases:
            trie.add(phrase_tokens(phrase), labels)
    return trie


def _report_trie(config: DetectorConfig) -> PhraseTrie:
    """First-person report cues, and look-alikes that are not reports ("do i have")."""
    trie = _plain_trie(config.cues.report, _REPORT)
    for phrase in config.cues.report_blockers:
        trie.add(phrase_tokens(phrase), _NOT_REPORT)
    return trie


def _plain_trie(phrases: Sequence[str], labels: Labels) -> PhraseTrie:
    trie = PhraseTrie()
    for phrase in phrases:
        trie.add(phrase_tokens(phrase), labels)
    return trie


# --- sentence structure ------------------------------------------------------------------


def _clause_ids(tokens: Sequence[str], matches: Sequence[Match]) -> list[int]:
    """Clause number of every token: a comma or a terminator phrase starts a new one."""
    terminators = {match.start for match in matches if Cue.TERMINATOR in match.labels.cues}
    clause_of: list[int] = []
    clause = 0
    for index, token in enumerate(tokens):
        starts_new = token == COMMA or (index in terminators and tokens[index - 1] != COMMA)
        if index > 0 and starts_new:
            clause += 1
        clause_of.append(clause)
    return clause_of


def _clause_starts(tokens: Sequence[str], clause_of: Sequence[int]) -> dict[int, int]:
    """First word of each clause (a clause may hold only a comma and have none)."""
    starts: dict[int, int] = {}
    for index, token in enumerate(tokens):
        if token != COMMA:
            starts.setdefault(clause_of[index], index)
    return starts


def _negations(
    tokens: Sequence[str], matches: Sequence[Match], clause_of: Sequence[int], window: int
) -> list[bool]:
    """Which matches fall inside a negation cue's scope."""
    words_before = [0]
    for token in tokens:
        words_before.append(words_before[-1] + (token != COMMA))
    negated = [False] * len(matches)
    for index, match in enumerate(matches):
        cues = match.labels.cues
        if Cue.NEG_PRE in cues:
            _mark(negated, matches, clause_of, words_before, index, window, forward=True)
        if Cue.NEG_POST in cues or (
            Cue.NEG_POST_FINAL in cues and _ends_clause(tokens, matches, clause_of, index)
        ):
            _mark(negated, matches, clause_of, words_before, index, window, forward=False)
    return negated


def _mark(
    negated: list[bool],
    matches: Sequence[Match],
    clause_of: Sequence[int],
    words_before: Sequence[int],
    cue: int,
    window: int,
    *,
    forward: bool,
) -> None:
    order = range(cue + 1, len(matches)) if forward else range(cue - 1, -1, -1)
    for index in order:
        match = matches[index]
        if Cue.TERMINATOR in match.labels.cues:
            return
        if not forward and clause_of[match.start] != clause_of[matches[cue].start]:
            return  # a post-cue answers its own clause only; a pre-cue runs through lists
        if forward:
            gap = words_before[match.start] - words_before[matches[cue].end]
        else:
            gap = words_before[matches[cue].start] - words_before[match.end]
        if gap >= window:
            return
        negated[index] = True


def _ends_clause(
    tokens: Sequence[str], matches: Sequence[Match], clause_of: Sequence[int], index: int
) -> bool:
    end = matches[index].end
    if end >= len(tokens) or tokens[end] == COMMA:
        return True
    return clause_of[end] != clause_of[matches[index].start]


def _only_negation(tokens: Sequence[str], matches: Sequence[Match]) -> bool:
    covered = sum(match.end - match.start for match in matches if match.labels.cues & _NEGATIONS)
    words = sum(token != COMMA for token in tokens)
    return 0 < words == covered


def _answered_no(sentences: Sequence[Sentence], facts: Sequence[_Facts], index: int) -> bool:
    """ "Numbness? None." : a self-answered question whose answer is a plain no."""
    following = index + 1
    return (
        sentences[index].question_mark
        and following < len(facts)
        and facts[following].only_negation
    )


def _resolves_previous(facts: Sequence[_Facts], index: int) -> bool:
    """ "I had numbness last year. It went away." : the next sentence says it is over."""
    following = index + 1
    if following >= len(facts):
        return False
    context = facts[following].context
    return Context.RESOLVED in context and Context.ONGOING not in context


# --- rules -------------------------------------------------------------------------------


def _rule_status(
    rule: Rule, facts: _Facts, history: History, partial: bool, resolved_next: bool
) -> Status | None:
    """The strongest status any key of the rule gets in this sentence, or None."""
    if any(concept in facts.asserted for concept in rule.unless):
        return None
    best: Status | None = None
    for key in facts.hits:
        if key.concept not in rule.key or key.negated or not _has_context(rule, facts, key):
            continue
        status = _key_status(facts, key.clause, history, partial, resolved_next)
        if status is not None and (best is None or STRENGTH[status] < STRENGTH[best]):
            best = status
    return best


def _key_status(
    facts: _Facts, clause_index: int, history: History, partial: bool, resolved_next: bool
) -> Status | None:
    """How a symptom key in this clause is mentioned (module docstring, step 8)."""
    clause = facts.clauses[clause_index]
    if clause.someone_else:
        return None
    if clause.info_question:
        return Status.QUESTION
    past = _placed_in_past(facts, clause_index)
    if history is not History.COUNTS and past:
        if resolved_next or facts.resolved_from(clause_index):
            return None
        recent_only = Context.RECENT in clause.context and Context.PAST not in clause.context
        if not (history is History.RECENT and recent_only):
            return Status.HEDGED
    if partial or clause.hedged:
        return Status.HEDGED
    return Status.DEFINITE


def _placed_in_past(facts: _Facts, clause_index: int) -> bool:
    """A past cue in the key's clause (or, for a resolution, anywhere in the sentence).

    "Ongoing" wins: "numb since last week" and "had it years ago, now its back" are now.
    """
    clause = facts.clauses[clause_index]
    if Context.ONGOING in clause.context:
        return False
    if clause.context & _PAST:
        return True
    return bool(facts.context & _PAST) and facts.resolved_from(clause_index)


def _has_context(rule: Rule, facts: _Facts, key: _Hit) -> bool:
    return all(facts.asserted_elsewhere(group, key.match) for group in rule.context)
