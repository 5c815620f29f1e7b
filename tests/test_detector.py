"""The red-flag detector, measured on a labelled corpus and checked against its contract.

Run with ``-s`` to see the report table (it is also part of any failure message):

    .venv/bin/python -m pytest tests/test_detector.py -q -s
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from back_care_guide.data import DataError, flows_dir
from back_care_guide.data.location import LEXICONS_DIR, TRIAGE_FILE
from back_care_guide.safety.detection import NOTHING, UNREADABLE, Detector, Reading, Status
from back_care_guide.safety.detector import KeywordDetector, default_detector, load_detector
from back_care_guide.safety.detector_config import load_config
from back_care_guide.safety.gate import Case
from back_care_guide.safety.gate import caught as gate_caught
from back_care_guide.safety.gate import load_corpus as gate_corpus
from back_care_guide.safety.text_fuzzy import osa_distance
from back_care_guide.safety.text_normalize import normalize

CORPUS_PATH = flows_dir() / "corpora" / "en.yaml"
LEXICON_PATH = flows_dir() / LEXICONS_DIR / "en.yaml"
TRIAGE_PATH = flows_dir() / TRIAGE_FILE

# Targets, fixed before measuring.
EMERGENCY_RECALL = 1.0  # every emergency phrase caught, at once or after one question
URGENT_RECALL = 1.0
PLAIN_AT_ONCE = 0.90  # plain (expect: definite) emergency/urgent reports DEFINITE at once
CLINICIAN_RECALL = 0.95
STOP_RECALL = 0.95
NEGATIVE_DEFINITE_SEVERE = 0.01  # DEFINITE emergency/urgent mentions on negatives
NEGATIVE_ANY_MENTION = 0.08  # any DEFINITE or HEDGED mention on negatives
QUESTION_RIGHT_SIGN = 0.80  # questions naming a sign that give QUESTION for it
MAX_MEAN_MS = 1.0
TIMING_ROUNDS = 10

SECTIONS = ("emergency", "urgent", "clinician", "stop_today", "negative")
TIERS: dict[str, str] = {
    sign: str(rule["tier"])
    for sign, rule in yaml.safe_load(TRIAGE_PATH.read_text(encoding="utf-8"))["signs"].items()
}
SEVERITY = {"emergency": 0, "urgent": 1, "clinician": 2, "stop_today": 3}
REPORTED = frozenset({Status.DEFINITE, Status.HEDGED})


def severity(sign: str) -> int:
    return SEVERITY[TIERS[sign]]


# --- the corpus ------------------------------------------------------------------------


def load_corpus() -> list[Case]:
    """The English corpus, read as the safety gate reads it."""
    return list(gate_corpus(CORPUS_PATH).cases)


def _reported(reading: Reading, up_to: int, status: frozenset[Status] = REPORTED) -> bool:
    """A mention with one of ``status`` of a sign at least as severe as tier ``up_to``."""
    return any(m.status in status and severity(m.sign) <= up_to for m in reading.mentions)


def _named(case: Case, reading: Reading, status: frozenset[Status] = REPORTED) -> bool:
    return any(reading.status(sign) in status for sign in case.signs)


def caught(case: Case, reading: Reading) -> bool:
    """Whether the detector did enough for this phrase: the safety gate's own measure."""
    return gate_caught(case, reading, TIERS)


def at_once(case: Case, reading: Reading) -> bool:
    """Caught with a DEFINITE mention: no confirming question needed."""
    definite = frozenset({Status.DEFINITE})
    if case.section in {"emergency", "urgent"}:
        return _reported(reading, SEVERITY["urgent"], definite)
    if case.section == "clinician":
        return _named(case, reading, definite) or _reported(reading, SEVERITY["urgent"], definite)
    return _reported(reading, SEVERITY["stop_today"], definite)


def _right_sign(case: Case, reading: Reading) -> bool:
    return _named(case, reading)


def _definite_severe(_case: Case, reading: Reading) -> bool:
    return _reported(reading, SEVERITY["urgent"], frozenset({Status.DEFINITE}))


def _any_mention(_case: Case, reading: Reading) -> bool:
    return any(m.status in REPORTED for m in reading.mentions)


def _question(case: Case, reading: Reading) -> bool:
    return _named(case, reading, frozenset({Status.QUESTION}))


# --- the report ------------------------------------------------------------------------


@dataclass
class Tally:
    """Results for one category of the corpus."""

    name: str
    results: list[tuple[Case, Reading]] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.results)

    def share(self, test: Callable[[Case, Reading], bool]) -> float:
        return self.count(test) / self.n if self.n else 0.0

    def count(self, test: Callable[[Case, Reading], bool]) -> int:
        return sum(test(case, reading) for case, reading in self.results)


@dataclass
class Report:
    tallies: dict[str, Tally]
    mean_ms: float
    table: str = ""

    def section(self, prefix: str, test: Callable[[Case], bool] = lambda _c: True) -> Tally:
        merged = Tally(prefix)
        for name, tally in self.tallies.items():
            if name.startswith(prefix + "/"):
                merged.results.extend(r for r in tally.results if test(r[0]))
        return merged

    def misses(self, prefix: str) -> list[str]:
        return [
            f"  {case.text!r} -> {_describe(reading)}"
            for case, reading in self.section(prefix).results
            if not caught(case, reading)
        ]

    def fail_message(self, headline: str, *prefixes: str) -> str:
        misses = [line for prefix in prefixes for line in self.misses(prefix)]
        return "\n".join([headline, self.table, "misread:", *misses])


def _describe(reading: Reading) -> str:
    if reading.failed:
        return "UNREADABLE"
    return ", ".join(f"{m.sign}:{m.status.value}" for m in reading.mentions) or "nothing"


def _plain(case: Case) -> bool:
    return case.expect == "definite"


def _names_a_sign(case: Case) -> bool:
    return case.kind == "question" and bool(case.signs)


def build_report(detector: KeywordDetector, cases: list[Case]) -> Report:
    tallies: dict[str, Tally] = {}
    for case in cases:
        tallies.setdefault(case.category, Tally(case.category)).results.append(
            (case, detector.read(case.text))
        )
    report = Report(tallies, _mean_ms(detector, [case.text for case in cases]))
    report.table = _table(report)
    return report


def _mean_ms(detector: KeywordDetector, texts: list[str]) -> float:
    start = time.perf_counter()
    for _ in range(TIMING_ROUNDS):
        for text in texts:
            detector.read(text)
    return (time.perf_counter() - start) * 1000 / (TIMING_ROUNDS * len(texts))


def _table(report: Report) -> str:
    lines = [
        "",
        "Red-flag detector on flows/corpora/en.yaml",
        f"{'positives':<36}{'n':>4}{'caught':>9}{'at once':>9}{'sign ok':>9}",
    ]
    for section in SECTIONS[:-1]:
        names = sorted(name for name in report.tallies if name.startswith(section + "/"))
        for name in [*names, section]:
            tally = report.tallies[name] if name in report.tallies else report.section(name)
            label = f"  {name}" if "/" in name else f"{name} (all)"
            lines.append(
                f"{label:<36}{tally.n:>4}{tally.share(caught):>9.0%}"
                f"{tally.share(at_once):>9.0%}{tally.share(_right_sign):>9.0%}"
            )
    for section in ("emergency", "urgent"):
        plain = report.section(section, _plain)
        lines.append(
            f"plain {section} reports DEFINITE at once: {plain.count(at_once)}/{plain.n}"
            f" ({plain.share(at_once):.0%})"
        )
    lines.append(
        f"{'negatives (false alarms)':<36}{'n':>4}{'DEF E/U':>9}{'any D/H':>9}{'QUEST':>9}"
    )
    names = sorted(name for name in report.tallies if name.startswith("negative/"))
    for name in [*names, "negative"]:
        tally = report.tallies[name] if name in report.tallies else report.section(name)
        label = f"  {name}" if "/" in name else "negative (all)"
        question = Tally(name, [r for r in tally.results if r[0].signs])
        lines.append(
            f"{label:<36}{tally.n:>4}{tally.share(_definite_severe):>9.0%}"
            f"{tally.share(_any_mention):>9.0%}{question.share(_question):>9.0%}"
        )
    questions = report.section("negative", _names_a_sign)
    lines.append(
        f"questions naming a sign that give QUESTION for it: "
        f"{questions.count(_question)}/{questions.n} ({questions.share(_question):.0%})"
    )
    total = sum(tally.n for tally in report.tallies.values())
    lines.append(f"corpus: {total} phrases; mean read() time {report.mean_ms:.3f} ms/message")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def detector() -> KeywordDetector:
    return default_detector()


@pytest.fixture(scope="module")
def report(detector: KeywordDetector) -> Report:
    built = build_report(detector, load_corpus())
    print(built.table)
    for prefix in SECTIONS:
        misses = built.misses(prefix)
        if misses:
            print(f"misread ({prefix}):", *misses, sep="\n")
    return built


# --- the lexicon and the triage rules ---------------------------------------------------


def test_lexicon_signs_are_the_triage_signs(detector: KeywordDetector) -> None:
    assert detector.signs == frozenset(TIERS)


def test_detector_satisfies_the_protocol(detector: KeywordDetector) -> None:
    reader: Detector = detector
    assert reader.language == "en"
    assert "bladder_bowel" in reader.signs
    assert reader.read("ready") == NOTHING


# --- corpus shape --------------------------------------------------------------------------


def test_corpus_is_big_enough_and_well_labelled() -> None:
    cases = load_corpus()
    assert len(cases) >= 600
    per_sign = dict.fromkeys(TIERS, 0)
    kinds = {"negated", "question", "stretch", "chat", "resolved_past", "other_person", "number"}
    for case in cases:
        assert set(case.signs) <= set(TIERS), case
        if case.section == "negative":
            assert case.kind in kinds, case
            continue
        assert case.signs, case
        assert TIERS[case.signs[0]] == case.section, case
        if case.section in {"emergency", "urgent"}:
            assert case.expect in {"definite", "hedged_ok"}, case
        per_sign[case.signs[0]] += 1
    assert min(per_sign.values()) >= 5, per_sign
    negatives = [case for case in cases if case.section == "negative"]
    for kind in kinds:
        assert sum(case.kind == kind for case in negatives) >= 5, kind
    assert any(case.expect == "hedged_ok" for case in cases)


# --- measured figures ------------------------------------------------------------------


@pytest.mark.parametrize(("section", "target"), [("emergency", EMERGENCY_RECALL),
                                                 ("urgent", URGENT_RECALL),
                                                 ("clinician", CLINICIAN_RECALL),
                                                 ("stop_today", STOP_RECALL)])
def test_recall(report: Report, section: str, target: float) -> None:
    recall = report.section(section).share(caught)
    assert recall >= target, report.fail_message(
        f"{section} recall {recall:.1%} < {target:.0%}", section
    )


def test_plain_reports_are_definite_at_once(report: Report) -> None:
    plain = report.section("emergency", _plain)
    plain.results.extend(report.section("urgent", _plain).results)
    share = plain.share(at_once)
    assert share >= PLAIN_AT_ONCE, report.fail_message(
        f"plain emergency/urgent reports DEFINITE at once {share:.1%} < {PLAIN_AT_ONCE:.0%}",
        "emergency",
        "urgent",
    )


def test_negatives_rarely_mention_signs(report: Report) -> None:
    negatives = report.section("negative")
    severe = negatives.share(_definite_severe)
    mentioned = negatives.share(_any_mention)
    problems = []
    if severe > NEGATIVE_DEFINITE_SEVERE:
        problems.append(f"DEFINITE emergency/urgent {severe:.1%} > {NEGATIVE_DEFINITE_SEVERE:.0%}")
    if mentioned > NEGATIVE_ANY_MENTION:
        problems.append(f"any mention {mentioned:.1%} > {NEGATIVE_ANY_MENTION:.0%}")
    assert not problems, report.fail_message("; ".join(problems), "negative")


def test_questions_are_read_as_questions(report: Report) -> None:
    questions = report.section("negative", _names_a_sign)
    share = questions.share(_question)
    wrong = [
        f"  {case.text!r} -> {_describe(reading)}"
        for case, reading in questions.results
        if not _question(case, reading)
    ]
    assert share >= QUESTION_RIGHT_SIGN, "\n".join(
        [f"questions giving QUESTION {share:.1%} < {QUESTION_RIGHT_SIGN:.0%}", *wrong]
    )


def test_reading_is_fast(report: Report) -> None:
    assert report.mean_ms < MAX_MEAN_MS, report.table


# --- behaviour named in the brief --------------------------------------------------------

DEFINITE, HEDGED, QUESTION = Status.DEFINITE, Status.HEDGED, Status.QUESTION


@pytest.mark.parametrize(
    ("text", "sign", "status"),
    [
        ("no pain but my leg is numb all the way down", "leg_numbness", DEFINITE),
        ("my left leg, it went numb all the way down", "leg_numbness", DEFINITE),
        ("I can\u2019t feel my foot", "leg_numbness", DEFINITE),
        ("I CANT FEEL MY FOOT", "leg_numbness", DEFINITE),
        ("electric shocks down my leg", "leg_numbness", DEFINITE),
        ("numbnes down my leg", "leg_numbness", DEFINITE),
        ("numb\u200bness in my leg", "leg_numbness", DEFINITE),
        ("nu\u0301mb leg", "leg_numbness", DEFINITE),
        ("wet myself without noticing", "bladder_bowel", DEFINITE),
        ("incontinance", "bladder_bowel", DEFINITE),
        ("bladder control has gone", "bladder_bowel", DEFINITE),
        ("control of my bladder is gone", "bladder_bowel", DEFINITE),
        ("didn't make it to the toilet and never felt it", "bladder_bowel", DEFINITE),
        ("my leg gave out", "leg_weakness", DEFINITE),
        ("cant lift my foot", "leg_weakness", DEFINITE),
        ("my leg is getting weaker every day", "leg_weakness_severe", DEFINITE),
        ("my groin is numb", "saddle_numbness", DEFINITE),
        ("numb when I wipe", "saddle_numbness", DEFINITE),
        ("can't get an erection since the back pain", "sexual_dysfunction", DEFINITE),
        ("both legs are tingling", "both_legs", DEFINITE),
        ("I can't pee", "urinary_retention", DEFINITE),
        ("I have to push to pee", "urinary_retention", DEFINITE),
        ("I think my leg might be a bit weak?", "leg_weakness", HEDGED),
        ("kind of tingly", "leg_numbness", HEDGED),
        ("numb", "leg_numbness", HEDGED),
        ("is it bad that my foot is numb?", "leg_numbness", HEDGED),
        ("my leg went numb last week", "leg_numbness", HEDGED),
        ("I had some tingling a few days ago", "leg_numbness", HEDGED),
        ("I had leg numbness years ago", "leg_numbness", HEDGED),
        ("my wife says my leg looks weak", "leg_weakness", DEFINITE),
        ("what counts as saddle numbness?", "saddle_numbness", QUESTION),
        ("is tingling normal?", "leg_numbness", QUESTION),
        ("what is cauda equina?", "bladder_bowel", QUESTION),
        ("something popped and it hurts", "sharp_pain", DEFINITE),
        ("the pain wakes me up at night", "night_pain", DEFINITE),
        ("I had a fall yesterday", "recent_injury", DEFINITE),
        ("I had cancer 10 years ago, all clear now", "cancer_history", DEFINITE),
        ("I've been on steroids for years", "steroids", DEFINITE),
        ("I had a slipped disc five years ago", "disc_problem", DEFINITE),
        ("pain is 8/10", "severe_pain", DEFINITE),
        ("my back pain is 9 out of 10", "severe_pain", DEFINITE),
        ("the pain never eases, even lying still", "constant_pain", DEFINITE),
        ("I've had back pain most days for about a year", "chronic_pain", DEFINITE),
    ],
)
def test_named_examples(detector: KeywordDetector, text: str, sign: str, status: Status) -> None:
    reading = detector.read(text)
    assert reading.status(sign) is status, _describe(reading)


@pytest.mark.parametrize(
    "text",
    [
        "no numbness",
        "I don't have any weakness",
        "I don\u2019t have any weakness",
        "never had bladder problems",
        "nothing radiates",
        "no tingling or numbness",
        "without any numbness",
        "I feel a gentle stretch",
        "I heard a pop",
        "that felt good",
        "my hamstrings feel tight",
        "I had numbness in my leg last year but it went away completely",
        "used to get tingling, not any more",
        "the weakness cleared up months ago",
        "I had numbness in my leg last year. It went away completely.",
        "my mum lost control of her bladder",
        "my husband's legs are numb",
        "my friend has a slipped disc",
        "see you at 7",
        "I'm 8 weeks pregnant",
        "pain is about a 2 out of 10 today",
    ],
)
def test_named_non_mentions(detector: KeywordDetector, text: str) -> None:
    reading = detector.read(text)
    assert not any(m.status in REPORTED for m in reading.mentions), _describe(reading)


def test_each_sign_gets_its_strongest_status(detector: KeywordDetector) -> None:
    text = "I had cancer years ago. Ouch that hurts. Also I wet myself without noticing."
    reading = detector.read(text)
    assert reading.status("bladder_bowel") is DEFINITE
    assert reading.status("sharp_pain") is DEFINITE
    assert reading.status("cancer_history") is DEFINITE
    signs = [mention.sign for mention in reading.mentions]
    assert len(signs) == len(set(signs))
    order = list(TIERS)  # the lexicon lists signs in the order of flows/triage.yaml
    assert signs == sorted(signs, key=order.index)
    mixed = detector.read("is numbness bad? my foot is a bit numb. my leg is numb")
    assert mixed.status("leg_numbness") is DEFINITE


def test_self_answered_question_with_no(detector: KeywordDetector) -> None:
    assert detector.read("Numbness? None. Tingling? No.") == NOTHING


def test_ongoing_wins_over_the_past(detector: KeywordDetector) -> None:
    assert detector.read("my leg has been numb since last week").status("leg_numbness") is (
        DEFINITE
    )
    text = "the pain went away but now my leg is numb"
    assert detector.read(text).status("leg_numbness") is DEFINITE


# --- normalization -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "plain"),
    [
        ("numb\u200bness", "numbness"),
        ("numb\u200cness", "numbness"),
        ("numb\u200dness", "numbness"),
        ("numb\u2060ness", "numbness"),
        ("\ufeffnumbness", "numbness"),
        ("numb\u00adness", "numbness"),
        ("nu\u0301mb", "numb"),
        ("n\u00fcmb", "numb"),
        ("Caf\u00e9", "cafe"),
    ],
)
def test_invisible_characters_and_accents_are_dropped(typed: str, plain: str) -> None:
    assert normalize(typed) == plain


# --- robustness --------------------------------------------------------------------------


def _odd_inputs() -> Iterable[str]:
    yield from ["", " ", "\n\n", "?", "...", ",,,", "😀" * 50, "\x00\x01", "‮rtl", "ﬁ"]
    yield from ["\u200b" * 20, "\u0301" * 30, "\ufeff", "8/10/10/10", "10" * 500]
    yield "a" * 10_000
    yield "numbness " * 1_200
    yield ("my leg is numb, " * 700)[:10_000]
    yield "x" * 300 + "numbnes" + "y" * 300
    yield "NO" * 5_000
    yield "🦵 is numb 🦶"
    rng = random.Random(20240611)
    alphabet = "abcdefghijklmnopqrstuvwxyz  ,.?!'\u2019😀éß\n0123456789/\u200b\u0301"
    for _ in range(300):
        yield "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120)))


@pytest.mark.parametrize("text", list(_odd_inputs()))
def test_never_raises_and_returns_a_valid_reading(detector: KeywordDetector, text: str) -> None:
    reading = detector.read(text)
    assert isinstance(reading, Reading)
    assert not reading.failed
    signs = [mention.sign for mention in reading.mentions]
    assert len(signs) == len(set(signs))
    assert set(signs) <= detector.signs


def test_internal_errors_read_as_unreadable_and_log_no_text(
    detector: KeywordDetector, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(text: str) -> Reading:
        raise RuntimeError(f"boom on {text}")

    monkeypatch.setattr(detector, "_read", broken)
    secret = "my secret numb leg"
    with caplog.at_level(logging.ERROR):
        assert detector.read(secret) == UNREADABLE  # ask, never silently ignore
    assert "RuntimeError" in caplog.text
    assert str(len(secret)) in caplog.text
    assert "secret" not in caplog.text
    assert all(record.exc_info is None for record in caplog.records)


# --- typo tolerance ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("numbness", "numbnes", 1), ("tingling", "tingeling", 1), ("weakness", "waekness", 1),
     ("bladder", "bladdr", 1), ("incontinence", "incontinance", 1), ("abc", "abc", 0),
     ("", "abc", 3), ("leg", "gel", 2)],
)
def test_osa_distance(a: str, b: str, distance: int) -> None:
    assert osa_distance(a, b) == distance


@pytest.mark.parametrize(
    "word",
    ["single", "towel", "number", "numbers", "week", "weekly", "fewer", "share", "stood",
     "leaning", "sleeping", "grown", "angle", "shook", "lighting", "cancel", "tutor",
     "stuff", "staff", "drugs", "slips", "parts", "during", "bell", "going", "feeling",
     "discount", "answer", "stereo", "injection"],
)
def test_common_words_are_not_read_as_symptoms(detector: KeywordDetector, word: str) -> None:
    for text in (f"my {word}", f"{word} in my leg"):
        reading = detector.read(text)
        assert not any(m.status in REPORTED for m in reading.mentions), (text, reading)


SYSTEM_WORDS = Path("/usr/share/dict/words")
# Dictionary words that typo tolerance may read as a lexicon term because they are forms
# of it. Any other dictionary word that gets corrected into a term belongs in the
# lexicon's fuzzy.never_correct list.
TERM_FORMS = frozenset(
    [
        "backsides", "bladders", "bottoms", "buzz", "buzzed", "controls", "feebler",
        "feebly", "fizz", "fizzed", "fizzles", "fizzling", "fuzz", "fuzzing", "fuzzes",
        "hamstrung", "insteps", "kneed", "kneels", "labial", "lightnings", "needled",
        "paralyses", "paralytic", "paralyze", "paralyzes", "poohing", "pricking", "prickle",
        "prickled", "pricklier", "scrotums", "sensations", "shoot", "testicle", "tingeing",
        "tinglings", "toilets", "travelings", "urinates", "urination", "vaginae", "vaginal",
        "vulvae", "vulvas", "vibrations", "weaken", "bulged", "bulges", "carcinomas",
        "carcinomata", "herniae", "lymphomas", "malignantly", "melanomas", "metastasize",
        "metastasizes", "sarcomas", "transplanted", "transplants", "undercarriages",
    ]
)


@pytest.mark.skipif(not SYSTEM_WORDS.exists(), reason="no system word list (apt: wamerican)")
def test_dictionary_words_are_not_corrected_into_terms(detector: KeywordDetector) -> None:
    words = {
        word
        for line in SYSTEM_WORDS.read_text(encoding="utf-8", errors="ignore").splitlines()
        if (word := line.strip()).isascii() and word.isalpha() and word.islower()
    }
    corrected = sorted(
        word
        for word in words - TERM_FORMS
        if (forms := detector.read_as(word)) and forms != (word,)
    )
    assert not corrected, f"add to fuzzy.never_correct or TERM_FORMS: {corrected}"


def test_short_words_get_no_typo_tolerance(detector: KeywordDetector) -> None:
    assert detector.read("my leg is nmb") == NOTHING


# --- configuration -------------------------------------------------------------------------


def test_default_detector_reads_the_flows_lexicon() -> None:
    assert LEXICON_PATH.parts[-4:] == ("back_care_guide", "flows", "detector", "en.yaml")
    assert load_config(LEXICON_PATH).value == default_detector().config


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = LEXICON_PATH.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "broken.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


@pytest.mark.parametrize(
    ("old", "new", "key", "line_of"),
    [
        ("  fever:\n    rules:", "  fever:\n    rulez:", "signs.fever.rulez", "rulez:"),
        ("language: en", "languag: en", "languag", "languag:"),
        ("      - {all: [fever]}", "      - {all: [fevre]}", "signs.fever.rules.0.all.0", "fevre"),
        ("negation_window: 6", "negation_window: six", "cues.negation_window",
         "negation_window: six"),
        ("same_first_letter: true", "same_first_letter: 3", "fuzzy.same_first_letter", ": 3"),
        ('"{cannot} lift",', '"{canot} lift",', "concepts.weak_with_leg.terms.", "{canot}"),
        ("  sharp_pain:\n    rules:", "  sharp_pain:\n    partial: []\n    rules:",
         "signs.sharp_pain.partial", "partial: []"),
        ("  osteoporosis:\n    history: counts", "  osteoporosis:\n    history: always",
         "signs.osteoporosis.history", "history: always"),
        ("  first_person: [", "  first_persons: [", "cues.first_persons", "first_persons:"),
    ],
)
def test_config_errors_name_file_key_and_line(
    tmp_path: Path, old: str, new: str, key: str, line_of: str
) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(DataError) as error:
        load_detector(path)
    assert error.value.file == str(path)
    assert error.value.key.startswith(key)
    assert error.value.line == _line_of(path, line_of)
    assert str(error.value).startswith(f"{path}:{error.value.line}: {error.value.key}: ")


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = _broken(tmp_path, "language: en", "language: [en")
    with pytest.raises(DataError, match=r"broken\.yaml:\d+: invalid YAML: "):
        load_detector(path)


def test_empty_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"empty\.yaml: the file is empty"):
        load_detector(path)
