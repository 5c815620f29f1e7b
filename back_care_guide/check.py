"""``python -m back_care_guide check``: validate every file under ``flows/`` before anything runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from back_care_guide.flow.graph import edges
from back_care_guide.flow.loader import FLOWS_DIR, load_bundle
from back_care_guide.flow.source import FlowError
from back_care_guide.flow.validate import validate


def check(flows_dir: Path = FLOWS_DIR, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Print every problem as ``file:line: message`` (exit 1) or a one-line summary (exit 0)."""
    try:
        bundle = load_bundle(flows_dir, check=False)
    except FlowError as exc:
        print(exc, file=err)
        return 1
    errors = validate(bundle)
    errors += _check_data_files(flows_dir)
    for error in errors:
        print(error, file=err)
    if errors:
        print(f"{len(errors)} problem(s) found", file=err)
        return 1
    flow = bundle.flow
    transitions = sum(1 for e in edges(bundle) if e.kind in ("choice", "timer", "call", "report"))
    texts = sum(len(loc.texts.entries) for loc in bundle.locales.values())
    print(f"OK: flow {flow.id!r} v{flow.version}: {len(flow.states)} states, {transitions} "
          f"transitions, {texts} texts in {len(bundle.locales)} language(s), "
          f"{len(bundle.triage.signs)} triage signs; safety rules hold", file=out)
    return 0


def _check_data_files(flows_dir: Path) -> list[FlowError]:
    """The emergency-number table is flow data too (the lexicons are checked with triage)."""
    from back_care_guide.safety.emergency import EmergencyNumbers

    problems: list[FlowError] = []
    numbers = flows_dir / "emergency_numbers.yaml"
    if numbers.exists():
        try:
            EmergencyNumbers.load(numbers)
        except ValueError as exc:
            problems.append(FlowError(numbers, None, str(exc)))
    return problems
