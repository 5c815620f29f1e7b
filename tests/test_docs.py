"""Generated documents stay in step with the data they are generated from."""

from __future__ import annotations

from pathlib import Path

from back_care_guide.diagram import mermaid
from back_care_guide.flow.loader import FlowBundle
from back_care_guide.triage_doc import render

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_triage_table_is_fresh(bundle: FlowBundle) -> None:
    """docs/triage.md is what a clinician reviews: regenerate it after editing the rules."""
    written = (DOCS / "triage.md").read_text(encoding="utf-8")
    assert written == render(bundle), "run: python -m back_care_guide triage-doc -o docs/triage.md"


def test_the_triage_table_has_every_sign_and_tier(bundle: FlowBundle) -> None:
    text = render(bundle)
    for name, sign in bundle.triage.signs.items():
        assert f"| {name} | {sign.tier} |" in text
    for tier in ("emergency", "urgent", "clinician", "stop_today"):
        assert f"| {tier} | `" in text


def test_the_flow_diagram_is_fresh(bundle: FlowBundle) -> None:
    written = (DOCS / "flow.md").read_text(encoding="utf-8")
    assert mermaid(bundle).strip() in written, "run: python -m back_care_guide diagram (see docs/flow.md)"
