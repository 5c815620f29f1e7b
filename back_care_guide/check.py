"""``python -m back_care_guide check``: validate every file of the flows directory before
anything runs. The bot runs the same checks at start (:func:`check_at_start`)."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import TextIO

import babel

from back_care_guide.data import DataError
from back_care_guide.data import flows_dir as resolve_flows_dir
from back_care_guide.flow.graph import edges
from back_care_guide.flow.loader import FlowBundle, load_bundle
from back_care_guide.flow.validate import validate
from back_care_guide.settings import cache_dir

PACKAGE = Path(__file__).resolve().parent
CHECKED = "checked"  # the cache's folder of fingerprints of data that passed every check


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
    texts = sum(len(loc.texts.keys()) for loc in bundle.locales.values())
    print(f"OK: flow {flow.id!r} v{flow.version}: {len(flow.states)} states, {transitions} "
          f"transitions, {texts} texts in {len(bundle.locales)} language(s), "
          f"{len(bundle.triage.signs)} triage signs, {len(bundle.numbers)} countries' emergency "
          "numbers; safety rules hold", file=out or sys.stdout)
    return 0


def check_at_start(flows_dir: Path | None, err: TextIO | None = None) -> FlowBundle | None:
    """The bot's gate: the checks of :func:`check`, silent when the data is sound. Returns
    the checked data for the bot to run on (loaded once), or None after the problems.

    The rules (the safety gate over every corpus among them) take a second or two, so data
    that passed them is remembered by a fingerprint of everything they read: every data
    file, the package's code and the CLDR data's version. Loading, with its schema checks,
    runs every time.
    """
    try:
        fingerprint: str | None = _fingerprint(resolve_flows_dir(flows_dir))
    except (DataError, OSError):  # loading says what is wrong
        fingerprint = None
    bundle, errors = _inspect(flows_dir, validated=fingerprint is not None and _passed(fingerprint))
    _report(errors, err or sys.stderr)
    if errors:
        return None
    if fingerprint is not None:
        _remember(fingerprint)
    return bundle


def _inspect(flows_dir: Path | None, *, validated: bool = False
             ) -> tuple[FlowBundle | None, list[DataError]]:
    """The bundle and every rule it breaks, or no bundle and the error that stopped loading."""
    try:
        bundle = load_bundle(flows_dir, check=False)
    except DataError as exc:
        return None, [exc]
    return bundle, [] if validated else validate(bundle)


def _fingerprint(folder: Path) -> str:
    """What the checks' verdict depends on: the data, the code and Babel's CLDR data."""
    digest = hashlib.sha256(f"babel {babel.__version__}\n".encode())
    for root, pattern in ((folder, "*.yaml"), (PACKAGE, "*.py")):
        for path in sorted(root.rglob(pattern)):
            digest.update(f"{path.relative_to(root)}\n".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _passed(fingerprint: str) -> bool:
    return (cache_dir() / CHECKED / fingerprint).is_file()


def _remember(fingerprint: str) -> None:
    """Best effort: without a writable cache the checks simply run at every start."""
    folder = cache_dir() / CHECKED
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / fingerprint).touch()
    except OSError:
        pass


def _report(errors: list[DataError], err: TextIO) -> None:
    for error in errors:
        print(error, file=err)
    if errors:
        print(f"{len(errors)} problem(s) found", file=err)
