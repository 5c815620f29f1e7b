"""``python -m bot check``: every rule rejects a broken copy of the flow with file and line."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.check import check
from bot.flow.loader import FLOWS_DIR

ROOT = Path(__file__).resolve().parents[1]


def broken_copy(tmp_path: Path, file: str, old: str, new: str) -> tuple[Path, int]:
    """Copy flows/, replace ``old`` by ``new`` in ``file``; return the dir and the edit's line."""
    target = tmp_path / "flows"
    shutil.copytree(FLOWS_DIR, target)
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
    result = subprocess.run([sys.executable, "-m", "bot", "check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: ") and "states" in result.stdout
    assert "transitions" in result.stdout and "texts" in result.stdout


RULES = [
    pytest.param("lower_back.yaml", "  welcome:\n    say:", "  welcome:\n    colour: red\n    say:",
                 "unknown key", 1, id="unknown-key"),
    pytest.param("lower_back.yaml", "to: screen_weakness}", "to: screen_wekness}",
                 "unknown state 'screen_wekness'", 0, id="unknown-target"),
    pytest.param("lower_back.yaml", "ask: screen.osteoporosis", "ask: screen.osteoporosys",
                 "text 'screen.osteoporosys' is missing from locale 'en'", 0, id="missing-text"),
    pytest.param("lower_back.yaml", "holds: {short: 15, standard: 20, long: 30}",
                 "holds: {short: 15, standard: 20, long: 35}",
                 "outside the declared range 15-30", 0, id="hold-out-of-range"),
    pytest.param("lower_back.yaml", "  clinician_end:\n", "  orphan:\n    kind: end\n    outcome: x\n"
                 "    say: [stopped.done]\n  clinician_end:\n", "unreachable from the start", 0,
                 id="unreachable"),
    pytest.param("lower_back.yaml", "      - {id: skip, label: btn.skip_to_twist, to: twist_left_position}\n",
                 "      - {id: skip, label: btn.skip_to_twist, to: dead_end}\n  dead_end:\n"
                 "    ask: ktc.both_offer\n", "no way out", 1, id="dead-end"),
]


@pytest.mark.parametrize(("file", "old", "new", "message", "line_offset"), RULES)
def test_rule(tmp_path: Path, file: str, old: str, new: str, message: str, line_offset: int) -> None:
    flows, line = broken_copy(tmp_path, file, old, new)
    code, err = run_check(flows)
    assert code == 1
    assert f"{flows / file}:{line + line_offset}: " in err, err
    assert message in err, err


def test_safety_emergency_must_reach_urgent_care(tmp_path: Path) -> None:
    flows, line = broken_copy(tmp_path, "lower_back.yaml", "  emergency: urgent_care",
                              "  emergency: pain_stop")
    code, err = run_check(flows)
    assert code == 1
    assert f"lower_back.yaml:{line}: interrupts.emergency: an emergency report must lead to" in err


def test_safety_red_flag_question_must_lead_to_urgent_care(tmp_path: Path) -> None:
    flows, _ = broken_copy(tmp_path, "lower_back.yaml",
                           '{id: "yes", label: btn.yes, to: urgent_care, set: {sign: leg_weakness}}\n'
                           '      - {id: "no", label: btn.no, to: screen_numbness}',
                           '{id: "yes", label: btn.yes, to: screen_numbness}\n'
                           '      - {id: "no", label: btn.no, to: screen_numbness}')
    code, err = run_check(flows)
    assert code == 1
    assert "states.screen_weakness: a 'yes' to this red-flag question must go to 'urgent_care'" in err


def test_safety_no_exercise_without_screening(tmp_path: Path) -> None:
    agree = "{id: agree, label: btn.agree, to: screen_bladder, set: {session: start}}"
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
    flows, _ = broken_copy(tmp_path, "lower_back.yaml", "    say: [urgent.now]\n",
                           "    say: [urgent.now]\n    choices:\n"
                           "      - {id: again, label: btn.start_over, to: ktc_left_position}\n")
    code, err = run_check(flows)
    assert code == 1
    assert "states.urgent_care: leads to an exercise: urgent_care --again--> ktc_left_position" in err


def test_locale_schema_error_names_the_locale_file(tmp_path: Path) -> None:
    flows, line = broken_copy(tmp_path, "locales/en.yaml", "language: en", "language: en\nlanguge: en")
    code, err = run_check(flows)
    assert code == 1
    assert f"en.yaml:{line + 1}: languge: unknown key" in err
