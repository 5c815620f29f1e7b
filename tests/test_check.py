"""``python -m back_care_guide check``: every rule rejects a broken copy of the flow with file and line."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from back_care_guide.__main__ import main
from back_care_guide.check import check
from back_care_guide.components import build_core
from back_care_guide.data import flows_dir
from back_care_guide.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def broken_copy(tmp_path: Path, file: str, old: str, new: str) -> tuple[Path, int]:
    """Copy flows/, replace ``old`` by ``new`` in ``file``; return the dir and the edit's line."""
    target = tmp_path / "flows"
    shutil.copytree(flows_dir(), target)
    path = target / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur exactly once in {file}"
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new), encoding="utf-8")
    return target, line


def run_check(flows: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = check(flows, out, err)
    return code, err.getvalue()


def test_the_real_flow_passes() -> None:
    result = subprocess.run([sys.executable, "-m", "back_care_guide", "check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: ") and "states" in result.stdout
    assert "transitions" in result.stdout and "texts" in result.stdout


RULES = [
    pytest.param("lower_back.yaml", "  welcome:\n    say:", "  welcome:\n    colour: red\n    say:",
                 "unknown key", 1, id="unknown-key"),
    pytest.param("lower_back.yaml", "start: welcome\n", "start: welcom\n", "start: unknown state 'welcom'",
                 0, id="unknown-start"),
    pytest.param("lower_back.yaml", "to: screen_cauda, set:", "to: screen_kauda, set:",
                 "unknown state 'screen_kauda'", 0, id="unknown-target"),
    pytest.param("lower_back.yaml", "ask: locked.ask", "ask: locked.asks",
                 "text 'locked.asks' is missing from locale 'en'", 0, id="missing-text"),
    pytest.param("lower_back.yaml", "holds: {short: 15, standard: 20, long: 30}",
                 "holds: {short: 15, standard: 20, long: 35}",
                 "outside the declared range 15-30", 0, id="hold-out-of-range"),
    pytest.param("lower_back.yaml", "  stopped:\n", "  orphan:\n    kind: end\n    outcome: x\n"
                 "    say: [stopped.done]\n  stopped:\n", "unreachable from the start", 0,
                 id="unreachable"),
    pytest.param("lower_back.yaml", "      - {id: skip, label: btn.skip_to_twist, to: twist_left_position}\n",
                 "      - {id: skip, label: btn.skip_to_twist, to: dead_end}\n  dead_end:\n"
                 "    ask: ktc.both_offer\n", "no way out", 1, id="dead-end"),
    pytest.param("lower_back.yaml",
                 "to: pain_after}\n      - {id: pain, label: btn.sharp_pain, report: sharp_pain}",
                 "to: pain_after}\n      - {id: pain, label: btn.sharp_pain, report: sharp_pains}",
                 "unknown sign 'sharp_pains'", 1, id="unknown-sign"),
    pytest.param("lower_back.yaml", "    group: back\n", "    group: bak\n",
                 "unknown screening group 'bak'", 0, id="unknown-group"),
    pytest.param("lower_back.yaml", "    say: [$message, pain.advice]", "    say: [$mesage, pain.advice]",
                 "unknown text '$mesage'", 0, id="unknown-dynamic-text"),
    # flows/triage.yaml, checked both ways against the flow, the locales and the lexicons
    pytest.param("triage.yaml", "    question: triage.question.fever\n",
                 "    question: triage.question.fevers\n",
                 "signs.fever.question: text 'triage.question.fevers' is missing from locale 'en'",
                 0, id="triage-missing-text"),
    pytest.param("triage.yaml", "    detect: [iv_drugs]", "    detect: [iv_drug]",
                 "signs.iv_drugs.detect.0: no rule 'iv_drug' in the lexicon en.yaml", 0,
                 id="triage-unknown-detector-rule"),
    pytest.param("triage.yaml", "    outcome: clinician_first\n", "    outcome: clinician_frst\n",
                 "tiers.clinician.outcome: unknown state 'clinician_frst'", 0,
                 id="triage-unknown-outcome"),
    pytest.param("triage.yaml", "    source: [girft]\n", "    source: [grift]\n",
                 "unknown source 'grift'", 0, id="triage-unknown-source"),
    # the lexicons and the emergency numbers are reported the same way
    pytest.param("detector/en.yaml", "      - {all: [fever]}", "      - {all: [fevre]}",
                 "signs.fever.rules.0.all.0: unknown concept 'fevre'", 0, id="lexicon-unknown-concept"),
    pytest.param("emergency_numbers.yaml", 'numbers: ["000", "112"]', "numbers: [000, 112]",
                 "countries.AU.numbers.0: phone number 0 must be a quoted string", 0,
                 id="numbers-unquoted"),
    pytest.param("triage.yaml", "    detect: [iv_drugs]", "    detect: iv_drugs",
                 "signs.iv_drugs.detect: Input should be a valid tuple", 0, id="triage-bad-type"),
    pytest.param("triage.yaml", "  cauda_equina:\n    question: triage.group.cauda_equina\n",
                 "  extra:\n    question: triage.group.cauda_equina\n    signs: [fever]\n"
                 "  cauda_equina:\n    question: triage.group.cauda_equina\n",
                 "groups.extra: no screen state in the flow asks this group", 0,
                 id="triage-group-not-asked"),
]


@pytest.mark.parametrize(("file", "old", "new", "message", "line_offset"), RULES)
def test_rule(tmp_path: Path, file: str, old: str, new: str, message: str, line_offset: int) -> None:
    flows, line = broken_copy(tmp_path, file, old, new)
    code, err = run_check(flows)
    assert code == 1
    assert f"{flows / file}:{line + line_offset}: " in err, err
    assert message in err, err


def test_a_lexicon_rule_no_sign_uses_is_reported_in_the_lexicon(tmp_path: Path) -> None:
    flows, _ = broken_copy(tmp_path, "triage.yaml", "    detect: [iv_drugs]\n",
                           "    detect: [steroids]\n")
    code, err = run_check(flows)
    assert code == 1
    lexicon = flows / "detector" / "en.yaml"
    line = lexicon.read_text(encoding="utf-8").split("\n").index("  iv_drugs:") + 1
    assert f"{lexicon}:{line}: signs.iv_drugs: no sign of flows/triage.yaml detects with this rule" in err


def test_a_sign_the_screening_never_asks_is_reported(tmp_path: Path) -> None:
    listed = "    signs: [fever, cancer_history, weight_loss, steroids, immunosuppression"
    flows, _ = broken_copy(tmp_path, "triage.yaml", listed + ", iv_drugs]", listed + "]")
    code, err = run_check(flows)
    assert code == 1
    line = (flows / "triage.yaml").read_text(encoding="utf-8").split("\n").index("  iv_drugs:") + 1
    assert f"triage.yaml:{line}: signs.iv_drugs: not asked by the screening" in err


def test_safety_warning_check_must_reach_urgent_care(tmp_path: Path) -> None:
    flows, _ = broken_copy(tmp_path, "lower_back.yaml", "  warning: rf_cauda ", "  warning: rf_clear ")
    code, err = run_check(flows)
    assert code == 1
    assert "interrupts.warning: the warning-sign check starting at 'rf_clear' can never reach" in err


def test_safety_no_exercise_without_screening(tmp_path: Path) -> None:
    agree = "{id: agree, label: btn.agree, to: screen_cauda, set: {session: start}}"
    flows, _ = broken_copy(tmp_path, "lower_back.yaml", agree, agree + "\n"
                           "      - {id: skip, label: btn.skip_to_twist, to: prepare}")
    code, err = run_check(flows)
    assert code == 1
    assert "exercise reachable without the whole screening: welcome --skip--> prepare" in err


def test_safety_hold_outside_the_article_range(tmp_path: Path) -> None:
    flows, line = broken_copy(tmp_path, "lower_back.yaml",
                              "    range: [20, 30]\n    holds: {short: 20, standard: 25, long: 30}",
                              "    range: [10, 30]\n    holds: {short: 10, standard: 25, long: 30}")
    code, err = run_check(flows)
    assert code == 1
    assert f"lower_back.yaml:{line + 1}: exercises.spinal_twist.holds.short: hold of 10 s is " \
           "outside the article's range 20-30 s" in err


def test_safety_no_exercise_after_urgent_care(tmp_path: Path) -> None:
    flows, _ = broken_copy(tmp_path, "lower_back.yaml", "    tags: [urgent]\n    say: [$message]\n",
                           "    tags: [urgent]\n    say: [$message]\n    choices:\n"
                           "      - {id: again, label: btn.start_over, to: ktc_left_position}\n")
    code, err = run_check(flows)
    assert code == 1
    assert ("states.urgent_care: leads to an exercise while its outcome holds: "
            "urgent_care --again--> ktc_left_position") in err


def test_safety_clinician_outcome_needs_the_clearance_guard(tmp_path: Path) -> None:
    """Without the clearance choice lifting the outcome, the gate leads back to the stretches."""
    flows, _ = broken_copy(tmp_path, "lower_back.yaml",
                           "to: recheck_sign, set: {clear: \"yes\"}}", "to: recheck_sign}")
    code, err = run_check(flows)
    assert code == 1
    assert "states.clinician_first: leads to an exercise while its outcome holds: clinician_first" in err
    assert "--cleared--> recheck_sign --no--> welcome" in err


def test_safety_a_triage_outcome_must_say_its_message_first(tmp_path: Path) -> None:
    flows, _ = broken_copy(tmp_path, "lower_back.yaml", "    say: [$message, pain.advice]",
                           "    say: [pain.advice, $message]")
    code, err = run_check(flows)
    assert code == 1
    assert "states.pain_stop.say: a triage outcome says the sign's $message first" in err
def test_locale_schema_error_names_the_locale_file(tmp_path: Path) -> None:
    flows, line = broken_copy(tmp_path, "locales/en.yaml", "language: en", "language: en\nlanguge: en")
    code, err = run_check(flows)
    assert code == 1
    assert f"en.yaml:{line + 1}: languge: unknown key" in err


# --- FLOWS_DIR: an operator's copy of the data, checked by `check` and at start --------------


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No logging set-up (it is process-wide), and a database of the test's own."""
    monkeypatch.setattr("back_care_guide.components.setup_logging", lambda *args: None)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    return monkeypatch


def _never_started(settings: object) -> int:
    raise AssertionError("the bot started on broken data")


def test_check_reads_flows_dir(tmp_path: Path, environment: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    flows, line = broken_copy(tmp_path, "emergency_numbers.yaml", 'numbers: ["000", "112"]',
                              "numbers: [000, 112]")
    environment.setenv("FLOWS_DIR", str(flows))
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert f"{flows / 'emergency_numbers.yaml'}:{line}: countries.AU.numbers.0: phone number 0 " in err


@pytest.mark.parametrize("command", ["chat", "run"])
def test_the_bot_refuses_to_start_on_broken_data(tmp_path: Path, environment: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str], command: str) -> None:
    flows, line = broken_copy(tmp_path, "detector/en.yaml", "      - {all: [fever]}",
                              "      - {all: [fevre]}")
    environment.setenv("FLOWS_DIR", str(flows))
    environment.setattr("back_care_guide.chat.run_chat", _never_started)
    environment.setattr("back_care_guide.telegram.app.run_telegram", _never_started)
    assert main([command]) == 2
    err = capsys.readouterr().err
    assert f"{flows / 'detector' / 'en.yaml'}:{line}: signs.fever.rules.0.all.0: unknown concept 'fevre'\n" \
        in err


def test_the_bot_refuses_to_start_when_flows_dir_is_missing(
        tmp_path: Path, environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    environment.setenv("FLOWS_DIR", str(tmp_path / "nowhere"))
    environment.setattr("back_care_guide.chat.run_chat", _never_started)
    assert main(["chat"]) == 2
    assert f"{tmp_path / 'nowhere' / 'lower_back.yaml'}: cannot read: " in capsys.readouterr().err


async def test_a_good_copy_in_flows_dir_is_what_the_bot_runs_on(
        tmp_path: Path, environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    flows, _ = broken_copy(tmp_path, "emergency_numbers.yaml", "    name: Japan\n", "    name: Nippon\n")
    environment.setenv("FLOWS_DIR", str(flows))
    assert main(["check"]) == 0
    assert capsys.readouterr().out.startswith("OK: ")
    started: list[Settings] = []
    environment.setattr("back_care_guide.chat.run_chat",
                        lambda settings, bundle, language: started.append(settings) or 0)
    assert main(["chat"]) == 0
    assert started[0].flows_dir == flows
    core = build_core(started[0])
    try:
        bundle = core.bundle
        assert bundle.flow_source.file == flows / "lower_back.yaml"
        assert bundle.lexicons["en"].source.file == flows / "detector" / "en.yaml"
        assert core.engine.numbers is bundle.numbers
        assert bundle.numbers.country("JP").name == "Nippon"
    finally:
        await core.store.close()


def test_the_documents_are_written_from_flows_dir(
        tmp_path: Path, environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    flows, _ = broken_copy(tmp_path, "lower_back.yaml", "  welcome:\n", "  greeting:\n")
    flow = flows / "lower_back.yaml"
    flow.write_text(flow.read_text().replace("start: welcome", "start: greeting")
                    .replace("to: welcome", "to: greeting"))
    locale = flows / "locales" / "en.yaml"
    locale.write_text(locale.read_text().replace('fever: "Fever or unwell"', 'fever: "Feverish (copy)"'))
    environment.setenv("FLOWS_DIR", str(flows))
    assert main(["diagram"]) == 0
    assert "greeting" in capsys.readouterr().out
    assert main(["triage-doc"]) == 0
    assert "Feverish (copy)" in capsys.readouterr().out


# ------------------------------------------------------------------ locales, both ways

SLOW_DOWN = ('    slow_down: "That\'s a lot of messages at once, so I\'ll skip a few. If something is '
             'wrong, type it in one message."\n')


def test_a_text_the_code_uses_is_missing_where_the_code_uses_it(tmp_path: Path) -> None:
    flows, _ = broken_copy(tmp_path, "locales/en.yaml", SLOW_DOWN, "")
    code, err = run_check(flows)
    assert code == 1
    uses = [(path, line) for path, line in _code_uses("system.slow_down")]
    assert uses and all(f"{path}:{line}: system.slow_down: no text 'system.slow_down' in en.yaml "
                        "(the code uses it)" in err for path, line in uses), err


def _code_uses(key: str) -> list[tuple[Path, int]]:
    from back_care_guide.flow.code_keys import keys_in_code

    return [(used.file, used.line) for used in keys_in_code({"system"}) if used.key == key]


def test_a_text_no_one_uses_is_reported(tmp_path: Path) -> None:
    flows, line = broken_copy(tmp_path, "locales/en.yaml", SLOW_DOWN,
                              SLOW_DOWN + '    slow_dwon: "A typo of a key."\n')
    code, err = run_check(flows)
    assert code == 1
    assert f"{flows / 'locales/en.yaml'}:{line + 1}: texts.system.slow_dwon: used nowhere" in err, err


def _second_locale(flows: Path, language: str, edit: tuple[str, str] | None = None) -> Path:
    """flows/locales/<language>.yaml: the English texts, with one edit."""
    text = (flows / "locales/en.yaml").read_text(encoding="utf-8")
    text = text.replace("language: en", f"language: {language}")
    if edit is not None:
        assert text.count(edit[0]) == 1
        text = text.replace(*edit)
    path = flows / "locales" / f"{language}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_locale_has_every_english_text(tmp_path: Path) -> None:
    flows, english_line = broken_copy(tmp_path, "locales/en.yaml", SLOW_DOWN, SLOW_DOWN)
    german = _second_locale(flows, "de", (SLOW_DOWN, ""))
    code, err = run_check(flows)
    assert code == 1
    assert (f"{german}:5: texts: text 'system.slow_down' is missing (en.yaml:{english_line} "
            "has it)") in err, err


def test_a_locale_has_no_texts_english_lacks(tmp_path: Path) -> None:
    flows, line = broken_copy(tmp_path, "locales/en.yaml", SLOW_DOWN, SLOW_DOWN)
    german = _second_locale(flows, "de", (SLOW_DOWN, SLOW_DOWN + '    slow: "Langsam."\n'))
    code, err = run_check(flows)
    assert code == 1
    assert f"{german}:{line + 1}: texts.system.slow: not a text of en.yaml" in err, err


def test_placeholders_match_across_locales(tmp_path: Path) -> None:
    flows, _ = broken_copy(tmp_path, "locales/en.yaml", SLOW_DOWN, SLOW_DOWN)
    store_down = "      {numbers}\n"
    german = _second_locale(flows, "de", (
        "type it here; in an emergency call your local emergency number.\n" + store_down,
        "type it here; in an emergency call your local emergency number.\n      {number}\n"))
    code, err = run_check(flows)
    assert code == 1
    line = _line_of(german, "    store_down:")
    assert (f"{german}:{line}: texts.system.store_down: placeholders ['number'] differ from "
            "en.yaml's ['numbers']") in err, err


def test_keys_are_read_from_the_code(tmp_path: Path) -> None:
    from back_care_guide.flow.code_keys import keys_in_code

    (tmp_path / "mod.py").write_text(
        '"""Docstring naming system.store_down is no use."""\n'
        'def f(texts, name):\n'
        '    texts.get("system.store_down")\n'
        '    texts.get(f"commands.{name}")\n'
        '    open("progress.png")\n'
        '    return "not.a.section", "system"\n', encoding="utf-8")
    found = [(k.key, k.line, k.is_prefix) for k in keys_in_code({"system", "commands", "progress"},
                                                                  package=tmp_path)]
    assert found == [("system.store_down", 3, False), ("commands.", 4, True)]


# ------------------------------------------------------------------ the safety gate

def test_a_red_flag_the_detector_misses_keeps_the_language_out(tmp_path: Path) -> None:
    phrase = "  - {text: \"I've lost control of my bladder\", sign: bladder_bowel}\n"
    missed = "  - {text: \"my wellies are full of custard\", sign: bladder_bowel}\n"
    flows, line = broken_copy(tmp_path, "corpora/en.yaml", phrase, phrase + missed)
    code, err = run_check(flows)
    assert code == 1
    assert (f"{flows / 'corpora/en.yaml'}:{line + 1}: emergency.") in err, err
    assert "red flag not caught (bladder_bowel): the en detector misses" in err, err


def test_too_many_false_alarms_keep_the_language_out(tmp_path: Path) -> None:
    flows, _ = broken_copy(tmp_path, "corpora/en.yaml", "\nnegative:\n", "\nnegative:\n" + "".join(
        f"  - {{text: \"I wet myself and didn't notice, day {n}\", kind: chat}}\n" for n in range(20)))
    code, err = run_check(flows)
    assert code == 1
    assert "false alarms on" in err and "over 5%" in err, err


def test_every_language_needs_its_texts_lexicon_and_corpus(tmp_path: Path) -> None:
    flows, _ = broken_copy(tmp_path, "locales/en.yaml", "language: en", "language: en")
    french = _second_locale(flows, "fr")
    code, err = run_check(flows)
    assert code == 1
    assert f"{french}:4: language: language 'fr' has no red-flag lexicon (detector/fr.yaml)" in err, err
    assert f"{french}:4: language: language 'fr' has no labelled corpus (corpora/fr.yaml)" in err, err


def test_plural_forms_follow_the_language(tmp_path: Path) -> None:
    """Spanish needs one, many and other (CLDR); English's two forms are not enough, and a
    text that has plural forms in English has them in every language."""
    flows, _ = broken_copy(tmp_path, "locales/en.yaml", "language: en", "language: en")
    spanish = flows / "locales/es.yaml"
    text = spanish.read_text(encoding="utf-8")
    many = '      many: "{count} de días"\n'
    assert text.count(many) == 1
    spanish.write_text(text.replace(many, ""), encoding="utf-8")
    german = flows / "locales/de.yaml"
    text = german.read_text(encoding="utf-8")
    forms = '    streak:\n      one: "{count} Tag"\n      other: "{count} Tage"\n'
    assert text.count(forms) == 1
    german.write_text(text.replace(forms, '    streak: "{count} Tage"\n'), encoding="utf-8")
    code, err = run_check(flows)
    assert code == 1
    es_line, de_line = (_line_of(path, "    streak:") for path in (spanish, german))
    assert f"es.yaml:{es_line}: texts.progress.streak: plural forms ['one', 'other'], but 'es' needs " \
           "['many', 'one', 'other']" in err, err
    assert f"de.yaml:{de_line}: texts.progress.streak: en.yaml has plural forms here" in err, err


def _line_of(path: Path, text: str) -> int:
    """The line of ``path`` that starts with ``text`` (there is one)."""
    lines = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if line.startswith(text)]
    assert len(lines) == 1, lines
    return lines[0]


def test_a_language_babel_does_not_know_is_refused(tmp_path: Path) -> None:
    flows, _ = broken_copy(tmp_path, "locales/en.yaml", "language: en", "language: en")
    _second_locale(flows, "qq")
    code, err = run_check(flows)
    assert code == 1
    assert "qq.yaml:4: language: 'qq' is not a language Babel knows" in err, err


def test_the_default_numbers_say_where_in_every_language(tmp_path: Path) -> None:
    """Where each default number works is a text of every locale, named by the data file."""
    flows, line = broken_copy(tmp_path, "emergency_numbers.yaml", "where: numbers.where.uk_ireland",
                              "where: numbers.where.uk")
    code, err = run_check(flows)
    assert code == 1
    assert (f"{flows / 'emergency_numbers.yaml'}:{line}: defaults.2.where: text "
            "'numbers.where.uk' is missing from locale 'de'") in err, err
    assert "texts.numbers.where.uk_ireland: used nowhere" in err, err


def test_data_that_passed_is_not_checked_again_at_start(tmp_path: Path,
                                                        environment: pytest.MonkeyPatch) -> None:
    """Start remembers a pass by a fingerprint of the data and the code; a change to any
    data file is checked again, and data that fails is never remembered."""
    from back_care_guide import check as checking

    environment.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    flows, _ = broken_copy(tmp_path, "emergency_numbers.yaml", "    name: Japan\n", "    name: Nippon\n")
    assert checking.check_at_start(flows) is not None
    assert len(list((tmp_path / "cache").rglob("*"))) == 3  # back-care-guide/checked/<fingerprint>

    def no_second_check(bundle: object) -> list[object]:
        raise AssertionError("checked again")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checking, "validate", no_second_check)
        assert checking.check_at_start(flows) is not None
    corpus = flows / "corpora/en.yaml"
    missed = "  - {text: \"my wellies are full of custard\", sign: bladder_bowel}\n"
    phrase = "  - {text: \"I've lost control of my bladder\", sign: bladder_bowel}\n"
    corpus.write_text(corpus.read_text(encoding="utf-8").replace(phrase, phrase + missed), encoding="utf-8")
    err = io.StringIO()
    assert checking.check_at_start(flows, err) is None  # the gate ran again, and refuses
    assert "red flag not caught" in err.getvalue()
    assert len(list((tmp_path / "cache" / "back-care-guide" / "checked").iterdir())) == 1
