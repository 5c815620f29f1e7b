"""Where the data is: the package's own ``flows/``, or an operator's copy (``FLOWS_DIR``).

This is the one place that knows it. The package's copy is read through
:mod:`importlib.resources`, so it is found in an installed wheel as well as in a checkout.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from back_care_guide.data.errors import DataError

# The layout of a flows directory.
FLOW_FILE = "lower_back.yaml"
SAFETY_FILE = "safety.yaml"
TRIAGE_FILE = "triage.yaml"
NUMBERS_FILE = "emergency_numbers.yaml"
LOCALES_DIR = "locales"  # <language>.yaml: the texts
LEXICONS_DIR = "detector"  # <language>.yaml: the red-flag lexicons
CORPORA_DIR = "corpora"  # <language>.yaml: each lexicon's labelled phrasings (the safety gate)


def flows_dir(configured: Path | None = None) -> Path:
    """``configured`` (the ``FLOWS_DIR`` setting) if given, else the package's own data."""
    if configured is not None:
        return configured
    packaged = files("back_care_guide") / "flows"
    if not isinstance(packaged, Path):
        # A zip import: the loaders read folders and name files in errors, so they need a
        # real directory. An installed wheel is unpacked, so this only affects zipapps.
        raise DataError(str(packaged), None, "FLOWS_DIR",
                        "the package data is not a directory on disk; set FLOWS_DIR to a copy")
    return packaged
