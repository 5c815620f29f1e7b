"""``python -m back_care_guide check``: validate every file of the flows directory before
anything runs. The bot runs the same checks at start (:func:`check_at_start`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from back_care_guide.data import DataError
from back_care_guide.flow.graph import edges
from back_care_guide.flow.loader import FlowBundle, load_bundle
from back_care_guide.flow.validate import validate


def check(flows_dir: Path | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Check ``flows_dir`` (default: the package's own data). Print every problem as
    ``file:line: key: message`` on ``err`` (exit 1) or a one-line summary on ``out`` (exit 0);
    they default to the ``sys`` streams of the moment."""
    bundle, errors = _inspect(flows_dir)
    if bundle is None or errors:
        _report(errors, err or sys.stderr)
        return 1
    flow = bundle.flow
    transitions = sum(1 for e in edges(bundle) if e.kind in ("choice", "timer", "call", "report"))
    texts = sum(len(loc.texts.entries) for loc in bundle.locales.values())
    print(f"OK: flow {flow.id!r} v{flow.version}: {len(flow.states)} states, {transitions} "
          f"transitions, {texts} texts in {len(bundle.locales)} language(s), "
          f"{len(bundle.triage.signs)} triage signs, {len(bundle.numbers)} countries' emergency "
          "numbers; safety rules hold", file=out or sys.stdout)
    return 0


def check_at_start(flows_dir: Path | None, err: TextIO | None = None) -> FlowBundle | None:
    """The bot's gate: the checks of :func:`check`, silent when the data is sound. Returns
    the checked data for the bot to run on (loaded once), or None after the problems."""
    bundle, errors = _inspect(flows_dir)
    _report(errors, err or sys.stderr)
    return None if errors else bundle


def _inspect(flows_dir: Path | None) -> tuple[FlowBundle | None, list[DataError]]:
    """The bundle and every rule it breaks, or no bundle and the error that stopped loading."""
    try:
        bundle = load_bundle(flows_dir, check=False)
    except DataError as exc:
        return None, [exc]
    return bundle, validate(bundle)


def _report(errors: list[DataError], err: TextIO) -> None:
    for error in errors:
        print(error, file=err)
    if errors:
        print(f"{len(errors)} problem(s) found", file=err)
