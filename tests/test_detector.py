"""The red-flag detector, measured on a labelled corpus and checked against its contract.

Run with ``-s`` to see the report table (it is also part of any failure message):

    .venv/bin/python -m pytest tests/test_detector.py -q -s
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from bot.safety.detection import (
    CLINICIAN_SIGNS,
    EMERGENCY_SIGNS,
    STOP_SIGNS,
    Detection,
    Outcome,
)
from bot.safety.detector import (
    KeywordDetector,
    default_detector,
    default_lexicon_path,
    load_detector,
)
from bot.safety.text_fuzzy import osa_distance

CORPUS_PATH = Path(__file__).parent / "data" / "redflag_corpus.yaml"
LEXICON_PATH = default_lexicon_path("en")

# Targets, fixed before measuring.
EMERGENCY_RECALL = 1.0  # every emergency phrase caught at once or after one question
PLAIN_AT_ONCE = 0.90  # plain (un-hedged) emergency reports alarmed without a question
EMERGENCY_SIGN_ACCURACY = 0.90  # caught emergency phrases naming a labelled sign
STOP_RECALL = 0.90
CLINICIAN_RECALL = 0.85
NEGATIVE_EMERGENCY = 0.05
NEGATIVE_UNSURE = 0.10
NEGATIVE_ANY_ALARM = 0.15
TIMING_ROUNDS = 20

URGENCY = {
    Outcome.EMERGENCY: 0,
    Outcome.UNSURE: 1,
    Outcome.STOP_NOW: 2,
    Outcome.CLINICIAN: 3,
    Outcome.NONE: 4,
}


# --- the corpus ------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    section: str  # emergency | stop_now | clinician | negative
    text: str
    signs: tuple[str, ...] = ()
    expect: str = ""
    kind: str = ""

    @property
    def category(self) -> str:
        if self.section == "negative":
            return f"negative/{self.kind}"
        return f"{self.section}/{self.signs[0]}"


def load_corpus() -> list[Case]:
    data = yaml.safe_load(CORPUS_PATH.read_text(encoding="utf-8"))
    cases = []
    for section in ("emergency", "stop_now", "clinician", "negative"):
        for entry in data[section]:
            sign = entry.get("sign", ())
            cases.append(
                Case(
                    section=section,
                    text=str(entry["text"]),
                    signs=(sign,) if isinstance(sign, str) else tuple(sign),
                    expect=entry.get("expect", "emergency" if section == "emergency" else ""),
                    kind=entry.get("kind", ""),
                )
            )
    return cases


def caught(case: Case, found: Detection) -> bool:
    """Whether the detector did enough for this phrase (see the corpus header)."""
    if case.section == "emergency":
        return found.outcome is Outcome.EMERGENCY or (
            found.outcome is Outcome.UNSURE and found.sign in case.signs
        )
    if case.section == "stop_now":
        return found.outcome in {Outcome.STOP_NOW, Outcome.EMERGENCY, Outcome.UNSURE}
    if case.section == "clinician":
        exact = found.outcome is Outcome.CLINICIAN and found.sign in case.signs
        return exact or URGENCY[found.outcome] < URGENCY[Outcome.CLINICIAN]
    return found.outcome is Outcome.NONE


# --- the report ------------------------------------------------------------------------


@dataclass
class Tally:
    """Results for one category of the corpus."""

    name: str
    results: list[tuple[Case, Detection]] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.results)

    def share(self, test: Callable[[Case, Detection], bool]) -> float:
        return sum(test(case, found) for case, found in self.results) / self.n if self.n else 0.0

    def count(self, test: Callable[[Case, Detection], bool]) -> int:
        return sum(test(case, found) for case, found in self.results)


def _outcome_is(*outcomes: Outcome) -> Callable[[Case, Detection], bool]:
    return lambda _case, found: found.outcome in outcomes


def _right_sign(case: Case, found: Detection) -> bool:
    return found.sign in case.signs


def _at_once(case: Case, found: Detection) -> bool:
    urgent = {
        "emergency": {Outcome.EMERGENCY},
        "stop_now": {Outcome.STOP_NOW, Outcome.EMERGENCY},
        "clinician": {Outcome.CLINICIAN, Outcome.STOP_NOW, Outcome.EMERGENCY},
    }[case.section]
    return found.outcome in urgent


@dataclass
class Report:
    tallies: dict[str, Tally]
    mean_ms: float
    table: str = ""

    def section(self, prefix: str) -> Tally:
        merged = Tally(prefix)
        for name, tally in self.tallies.items():
            if name.startswith(prefix + "/"):
                merged.results.extend(tally.results)
        return merged

    def misses(self, prefix: str) -> list[str]:
        return [
            f"  {case.text!r} -> {found.outcome.value} {found.sign or ''}".rstrip()
            for case, found in self.section(prefix).results
            if not caught(case, found)
        ]

    def fail_message(self, headline: str, prefix: str) -> str:
        return "\n".join([headline, self.table, "misread:", *self.misses(prefix)])


def build_report(detector: KeywordDetector, cases: list[Case]) -> Report:
    tallies: dict[str, Tally] = {}
    for case in cases:
        tallies.setdefault(case.category, Tally(case.category)).results.append(
            (case, detector.detect(case.text))
        )
    report = Report(tallies, _mean_ms(detector, [case.text for case in cases]))
    report.table = _table(report)
    return report


def _mean_ms(detector: KeywordDetector, texts: list[str]) -> float:
    start = time.perf_counter()
    for _ in range(TIMING_ROUNDS):
        for text in texts:
            detector.detect(text)
    return (time.perf_counter() - start) * 1000 / (TIMING_ROUNDS * len(texts))


def _table(report: Report) -> str:
    lines = [
        "",
        "Red-flag detector on tests/data/redflag_corpus.yaml",
        f"{'positives':<34}{'n':>4}{'recall':>9}{'at once':>9}{'sign ok':>9}",
    ]
    for section in ("emergency", "stop_now", "clinician"):
        names = sorted(name for name in report.tallies if name.startswith(section + "/"))
        for name in [*names, section]:
            tally = report.tallies[name] if name in report.tallies else report.section(name)
            label = f"  {name}" if "/" in name else f"{name} (all)"
            lines.append(
                f"{label:<34}{tally.n:>4}{tally.share(caught):>9.0%}"
                f"{tally.share(_at_once):>9.0%}{tally.share(_right_sign):>9.0%}"
            )
    plain = _plain_emergencies(report)
    lines.append(
        f"plain emergency reports alarmed at once: {plain.count(_at_once)}/{plain.n}"
        f" ({plain.share(_at_once):.0%})"
    )
    lines.append(
        f"{'negatives (false alarms)':<34}{'n':>4}{'EMERG':>9}{'UNSURE':>9}"
        f"{'STOP':>9}{'CLIN':>9}"
    )
    names = sorted(name for name in report.tallies if name.startswith("negative/"))
    for name in [*names, "negative"]:
        tally = report.tallies[name] if name in report.tallies else report.section(name)
        label = f"  {name}" if "/" in name else "negative (all)"
        lines.append(
            f"{label:<34}{tally.n:>4}"
            + "".join(
                f"{tally.share(_outcome_is(outcome)):>9.0%}"
                for outcome in (Outcome.EMERGENCY, Outcome.UNSURE, Outcome.STOP_NOW,
                                Outcome.CLINICIAN)
            )
        )
    total = sum(tally.n for tally in report.tallies.values())
    lines.append(f"corpus: {total} phrases; mean detect() time {report.mean_ms:.3f} ms/message")
    return "\n".join(lines)


def _plain_emergencies(report: Report) -> Tally:
    tally = Tally("plain")
    tally.results = [
        (case, found)
        for case, found in report.section("emergency").results
        if case.expect == "emergency"
    ]
    return tally


@pytest.fixture(scope="module")
def detector() -> KeywordDetector:
    return default_detector()


@pytest.fixture(scope="module")
def report(detector: KeywordDetector) -> Report:
    built = build_report(detector, load_corpus())
    print(built.table)
    for prefix in ("emergency", "stop_now", "clinician", "negative"):
        misses = built.misses(prefix)
        if misses:
            print(f"misread ({prefix}):", *misses, sep="\n")
    return built


# --- corpus shape --------------------------------------------------------------------------


def test_corpus_is_big_enough_and_well_labelled() -> None:
    cases = load_corpus()
    assert len(cases) >= 200
    per_sign = {sign: 0 for sign in EMERGENCY_SIGNS}
    for case in cases:
        if case.section == "emergency":
            assert case.expect in {"emergency", "emergency_or_confirm"}, case
            assert set(case.signs) <= set(EMERGENCY_SIGNS), case
            per_sign[case.signs[0]] += 1
        elif case.section == "stop_now":
            assert set(case.signs) <= set(STOP_SIGNS), case
        elif case.section == "clinician":
            assert set(case.signs) <= set(CLINICIAN_SIGNS), case
        else:
            assert case.kind in {"negated", "question", "stretch", "chat"}, case
    for sign in ("bladder_bowel", "leg_weakness", "leg_numbness"):
        assert per_sign[sign] >= 12, sign
    for sign in ("saddle_numbness", "both_legs", "urinary_retention"):
        assert per_sign[sign] >= 6, sign
    sections = [case.section for case in cases]
    assert sections.count("stop_now") >= 15
    assert sections.count("clinician") >= 15
    assert sections.count("negative") >= 60
    assert any(case.expect == "emergency_or_confirm" for case in cases)


# --- measured figures ------------------------------------------------------------------


def test_every_emergency_phrase_is_caught(report: Report) -> None:
    recall = report.section("emergency").share(caught)
    assert recall >= EMERGENCY_RECALL, report.fail_message(
        f"emergency recall {recall:.1%} < {EMERGENCY_RECALL:.0%}", "emergency"
    )


def test_plain_emergency_reports_alarm_at_once(report: Report) -> None:
    share = _plain_emergencies(report).share(_at_once)
    assert share >= PLAIN_AT_ONCE, report.fail_message(
        f"plain emergency reports alarmed at once {share:.1%} < {PLAIN_AT_ONCE:.0%}",
        "emergency",
    )


def test_emergency_signs_are_named_right(report: Report) -> None:
    share = report.section("emergency").share(_right_sign)
    assert share >= EMERGENCY_SIGN_ACCURACY, report.fail_message(
        f"emergency sign accuracy {share:.1%} < {EMERGENCY_SIGN_ACCURACY:.0%}", "emergency"
    )


def test_stop_now_recall(report: Report) -> None:
    recall = report.section("stop_now").share(caught)
    assert recall >= STOP_RECALL, report.fail_message(
        f"stop-now recall {recall:.1%} < {STOP_RECALL:.0%}", "stop_now"
    )


def test_clinician_recall(report: Report) -> None:
    recall = report.section("clinician").share(caught)
    assert recall >= CLINICIAN_RECALL, report.fail_message(
        f"clinician recall {recall:.1%} < {CLINICIAN_RECALL:.0%}", "clinician"
    )


def test_negatives_rarely_alarm(report: Report) -> None:
    negatives = report.section("negative")
    emergency = negatives.share(_outcome_is(Outcome.EMERGENCY))
    unsure = negatives.share(_outcome_is(Outcome.UNSURE))
    alarmed = 1 - negatives.share(_outcome_is(Outcome.NONE))
    problems = []
    if emergency > NEGATIVE_EMERGENCY:
        problems.append(f"false EMERGENCY {emergency:.1%} > {NEGATIVE_EMERGENCY:.0%}")
    if unsure > NEGATIVE_UNSURE:
        problems.append(f"UNSURE on negatives {unsure:.1%} > {NEGATIVE_UNSURE:.0%}")
    if alarmed > NEGATIVE_ANY_ALARM:
        problems.append(f"any alarm on negatives {alarmed:.1%} > {NEGATIVE_ANY_ALARM:.0%}")
    assert not problems, report.fail_message("; ".join(problems), "negative")


# --- behaviour named in the issue --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "outcome", "sign"),
    [
        ("no pain but my leg is numb all the way down", Outcome.EMERGENCY, "leg_numbness"),
        ("my left leg, it went numb all the way down", Outcome.EMERGENCY, "leg_numbness"),
        ("I can\u2019t feel my foot", Outcome.EMERGENCY, "leg_numbness"),
        ("I CANT FEEL MY FOOT", Outcome.EMERGENCY, "leg_numbness"),
        ("i can't feel my foot", Outcome.EMERGENCY, "leg_numbness"),
        ("electric shocks down my leg", Outcome.EMERGENCY, "leg_numbness"),
        ("numbnes down my leg", Outcome.EMERGENCY, "leg_numbness"),
        ("wet myself without noticing", Outcome.EMERGENCY, "bladder_bowel"),
        ("incontinance", Outcome.EMERGENCY, "bladder_bowel"),
        ("my leg gave out", Outcome.EMERGENCY, "leg_weakness"),
        ("cant lift my foot", Outcome.EMERGENCY, "leg_weakness"),
        ("my groin is numb", Outcome.EMERGENCY, "saddle_numbness"),
        ("both legs are tingling", Outcome.EMERGENCY, "both_legs"),
        ("I can't pee", Outcome.EMERGENCY, "urinary_retention"),
        ("I think my leg might be a bit weak?", Outcome.UNSURE, "leg_weakness"),
        ("kind of tingly", Outcome.UNSURE, "leg_numbness"),
        ("numb", Outcome.UNSURE, "leg_numbness"),
        ("not sure if I can feel my foot properly", Outcome.UNSURE, "leg_numbness"),
        ("is it bad that my foot is numb?", Outcome.UNSURE, "leg_numbness"),
        ("something popped and it hurts", Outcome.STOP_NOW, "sharp_pain"),
        ("it hurts", Outcome.STOP_NOW, "sharp_pain"),
        ("the pain wakes me up at night", Outcome.CLINICIAN, "night_pain"),
        ("I had a fall yesterday", Outcome.CLINICIAN, "recent_trauma"),
    ],
)
def test_named_examples(detector: KeywordDetector, text: str, outcome: Outcome, sign: str) -> None:
    assert detector.detect(text) == Detection(outcome, sign)


@pytest.mark.parametrize(
    "text",
    [
        "no numbness",
        "I don't have any weakness",
        "I don\u2019t have any weakness",
        "never had bladder problems",
        "nothing radiates",
        "no tingling or numbness",
        "not weak at all",
        "without any numbness",
        "what do you mean by numbness?",
        "what counts as weakness?",
        "is tingling normal?",
        "I feel a gentle stretch",
        "I heard a pop",
        "my back cracked and feels better",
        "that felt good",
        "ready",
        "done",
        "my hamstrings feel tight",
    ],
)
def test_named_non_alarms(detector: KeywordDetector, text: str) -> None:
    assert detector.detect(text) == Detection(Outcome.NONE)


def test_the_most_urgent_finding_wins(detector: KeywordDetector) -> None:
    text = "I had cancer years ago. Ouch that hurts. Also I wet myself without noticing."
    assert detector.detect(text) == Detection(Outcome.EMERGENCY, "bladder_bowel")
    assert detector.detect("it hurts and I might be a bit numb") == Detection(
        Outcome.UNSURE, "leg_numbness"
    )


def test_self_answered_question_with_no(detector: KeywordDetector) -> None:
    assert detector.detect("Numbness? None. Tingling? No.") == Detection(Outcome.NONE)


# --- robustness --------------------------------------------------------------------------


def _odd_inputs() -> Iterable[str]:
    yield from ["", " ", "\n\n", "?", "...", ",,,", "😀" * 50, "\x00\x01", "‮rtl", "ﬁ"]
    yield "a" * 10_000
    yield "numbness " * 1_200
    yield ("my leg is numb, " * 700)[:10_000]
    yield "x" * 300 + "numbnes" + "y" * 300
    yield "NO" * 5_000
    yield "🦵 is numb 🦶"
    rng = random.Random(20240611)
    alphabet = "abcdefghijklmnopqrstuvwxyz  ,.?!'\u2019😀éß\n0123456789"
    for _ in range(300):
        yield "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120)))


@pytest.mark.parametrize("text", list(_odd_inputs()))
def test_never_raises_and_returns_a_valid_detection(
    detector: KeywordDetector, text: str
) -> None:
    found = detector.detect(text)
    assert isinstance(found, Detection)
    if found.outcome is Outcome.NONE:
        assert found.sign is None
    elif found.outcome in {Outcome.EMERGENCY, Outcome.UNSURE}:
        assert found.sign in EMERGENCY_SIGNS
    elif found.outcome is Outcome.STOP_NOW:
        assert found.sign in STOP_SIGNS
    else:
        assert found.sign in CLINICIAN_SIGNS


def test_internal_errors_ask_instead_of_ignoring(
    detector: KeywordDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_text: str) -> Detection:
        raise RuntimeError("boom")

    monkeypatch.setattr(detector, "_detect", broken)
    assert detector.detect("numb") == Detection(Outcome.UNSURE)  # ask, never silently ignore


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
     "stuff", "staff", "drugs", "slips", "parts", "during", "bell", "going", "feeling"],
)
def test_common_words_are_not_read_as_symptoms(detector: KeywordDetector, word: str) -> None:
    assert detector.detect(f"my {word}") == Detection(Outcome.NONE)
    assert detector.detect(f"{word} in my leg") == Detection(Outcome.NONE)


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
        "vulvae", "vulvas", "vibrations", "weaken",
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
    assert detector.detect("my leg is nmb") == Detection(Outcome.NONE)


# --- configuration -------------------------------------------------------------------------


def test_default_detector_reads_the_flows_lexicon() -> None:
    assert LEXICON_PATH.parts[-3:] == ("flows", "detector", "en.yaml")
    assert default_detector().config.origin == str(LEXICON_PATH)


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
        ("  fever:\n    rules:", "  fevr:\n    rules:", "signs.fevr", "fevr:"),
        ("language: en", "languag: en", "(document).languag", "languag:"),
        ("      - {all: [fever]}", "      - {all: [fevre]}", "signs.fever.rules[0].all", "fevre"),
        ("negation_window: 6", "negation_window: six", "cues.negation_window", "six"),
        ("same_first_letter: true", "same_first_letter: 3", "fuzzy.same_first_letter", ": 3"),
        ('"{cannot} lift",', '"{canot} lift",', "concepts.weak_with_leg.terms", "{canot}"),
        ("  sharp_pain:\n    rules:", "  sharp_pain:\n    partial: []\n    rules:",
         "signs.sharp_pain.partial", "partial: []"),
        ("  night_pain:\n    rules:\n      - {all: [night_strong]}\n"
         "      - {all: [night_wake, [pain_any, night]]}\n", "",
         "signs", "signs:"),
    ],
)
def test_config_errors_name_file_key_and_line(
    tmp_path: Path, old: str, new: str, key: str, line_of: str
) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(ValueError) as error:
        load_detector(path)
    message = str(error.value)
    assert str(path) in message
    assert key in message
    assert f":{_line_of(path, line_of)}:" in message


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = _broken(tmp_path, "language: en", "language: [en")
    with pytest.raises(ValueError, match=r"broken\.yaml:\d+: \(document\)"):
        load_detector(path)


def test_empty_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"empty\.yaml: \(document\): the file is empty"):
        load_detector(path)
