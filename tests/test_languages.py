"""Every language's red-flag net, measured on its own corpus as the safety gate does.

Run with ``-s`` to see each language's figures:

    .venv/bin/python -m pytest tests/test_languages.py -q -s
"""

from __future__ import annotations

import pytest

from back_care_guide.components import load_detectors
from back_care_guide.flow.loader import DEFAULT_LANGUAGE, FlowBundle
from back_care_guide.safety.gate import MAX_FALSE_ALARMS, gate, measure


@pytest.mark.parametrize("language", ["en", "es", "de"])
def test_the_language_passes_the_safety_gate(bundle: FlowBundle, language: str) -> None:
    detectors = load_detectors(bundle)
    readers = [detectors[language]]
    if language != DEFAULT_LANGUAGE:
        readers.append(detectors[DEFAULT_LANGUAGE])  # triage reads English too
    tiers = {sign_id: sign.level for sign_id, sign in bundle.triage.signs.items()}
    corpus = bundle.corpora[language]
    found = measure(corpus, readers, tiers)
    print(f"\n{language}: {len(corpus.cases)} phrasings; emergency and urgent caught "
          f"{found.severe - len(found.severe_missed)}/{found.severe} ({found.recall:.0%}); "
          f"false alarms {len(found.false_alarms)}/{found.negatives} "
          f"({found.false_alarm_rate:.1%}, limit {MAX_FALSE_ALARMS:.0%})")
    for case in found.false_alarms:
        print(f"  false alarm: {case.text!r}")
    assert gate(corpus, found) == []
