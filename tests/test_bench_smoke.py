"""Smoke test of the load benchmark: ``python -m bench.run --quick`` runs every scenario.

Only that it finishes and prints a row for every scenario; the figures and targets are
not checked here (a few dozen users say nothing about load).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.pg import in_ci

ROOT = Path(__file__).resolve().parents[1]
SCENARIO_ROWS = ("1. start burst", "2. button latency", "3. memory", "4. timer accuracy",
                 "5. emergency", "6. reminder burst", "7. urgent care under load",
                 "8. calls per session", "9. postgres replicas")


def _mtime(path: Path) -> float | None:
    return path.stat().st_mtime if path.exists() else None


def test_quick_benchmark_prints_every_scenario() -> None:
    report = ROOT / "BENCHMARKS.md"
    report_before = _mtime(report)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    table = done.stdout.split("\nscenario ", 1)
    assert len(table) == 2, output  # the table's header line
    rows = [line for line in table[1].splitlines() if line[:2] in {f"{n}." for n in range(1, 10)}]
    for label in SCENARIO_ROWS:
        assert any(row.startswith(label) for row in rows), f"no row for {label!r}\n{output}"
    failed = [row for row in rows if " error " in f" {row} "]
    assert not failed, output
    assert not [row for row in rows if row.rstrip().endswith("TODO")], output  # every scenario measured
    reminders = [row for row in rows if row.startswith("6. reminder burst")]
    assert any(row.rstrip().endswith(("PASS", "FAIL")) for row in reminders), output
    urgent = [row for row in rows if row.startswith("7. urgent care under load")]
    assert any(row.rstrip().endswith(("PASS", "FAIL")) for row in urgent), output  # measured, limiter on
    replicas = [row for row in rows if row.startswith("9. postgres replicas")]
    measured = ("PASS", "FAIL") if in_ci() else ("PASS", "FAIL", "skipped")  # without PostgreSQL
    assert any(row.rstrip().endswith(measured) for row in replicas), output
    calls = [row for row in rows if row.startswith("8. calls per session")]
    assert any(row.rstrip().endswith("PASS") for row in calls), output  # counted, not timed
    assert _mtime(report) == report_before  # a quick run never overwrites the real report
