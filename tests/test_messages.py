"""Messages a person reads on a phone, often lying on the floor: short, one idea each."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from back_care_guide.flow.choices import question_of
from back_care_guide.flow.loader import FlowBundle
from back_care_guide.safety.emergency import default_numbers
from back_care_guide.safety.emergency_line import numbers_line
from back_care_guide.safety.triage_rules import LOCKING

MAX_CHARS = 400


def worst_params(bundle: FlowBundle, language: str) -> dict[str, object]:
    """The longest value each placeholder can take."""
    texts = bundle.texts(language)
    names = [texts.get(sign.name) for sign in bundle.triage.signs.values()]
    longest = max(names, key=len)
    return {
        "sign": longest, "sign_cap": longest, "numbers": numbers_line(default_numbers(), texts, None),
        "reported": texts.get("when.reported_on", date=texts.day(date(2026, 9, 30))),
        "when": texts.get("when.later", date=texts.day(date(2026, 9, 30)), time="23:59"), "seconds": 30,
        "country": "Bosnia and Herzegovina", "list": "112, 122, 123, 124", "label": "x" * 24,
        "time": "23:59", "zone": "America/Argentina/ComodRivadavia", "completed": texts.number(1000),
        "change": texts.number(-10, signed=True), "streak": texts.plural("progress.streak", 1_000_000),
        "date": texts.day(date(2026, 9, 30)), "number": "112", "where": "x" * 40,
        "count": texts.number(1_000_000),
    }


def candidates(bundle: FlowBundle, state: str, key: str) -> list[str]:
    """A state's text key, or every text a ``$`` key can stand for in that state."""
    triage = bundle.triage
    if key == "$message":  # the messages of the signs whose outcome this state is
        return [sign.message for sign in triage.signs.values()
                if triage.tiers.rule(sign.level).outcome == state]
    if key == "$question":
        return [sign.question for sign in triage.signs.values()]
    if key == "$reminder":
        return [triage.tiers.rule(tier).reminder for tier in LOCKING]
    return [key]


def test_every_text_is_short(bundle: FlowBundle) -> None:
    for language, loaded in bundle.locales.items():
        params = worst_params(bundle, language)
        for path, text in loaded.texts.variants():
            rendered = text.format_map(params)
            assert len(rendered) <= MAX_CHARS, f"{language} {path}: {len(rendered)} characters"


def test_every_message_of_the_flow_is_short(bundle: FlowBundle) -> None:
    """A state says its texts and asks its question in one message: all of it counts."""
    for language in bundle.locales:
        texts = bundle.texts(language)
        params = worst_params(bundle, language)
        for name, state in bundle.flow.states.items():
            keys = [*state.say, *filter(None, [question_of(bundle.triage, state)])]
            for chosen in itertools.product(*(candidates(bundle, name, key) for key in keys)):
                message = "\n\n".join(texts.get(key, **params) for key in chosen)
                assert len(message) <= MAX_CHARS, f"{language} {name}: {len(message)} characters"


@pytest.mark.parametrize("language", ["en", "es", "de"])
def test_the_urgent_message_opens_with_the_action_and_the_number(bundle: FlowBundle, language: str) -> None:
    """In every language: what to do first, then the number, then at most three short lines
    (the sign, why, and to stop)."""
    texts = bundle.texts(language)
    params = worst_params(bundle, language)
    for tier in ("emergency", "urgent"):
        lines = [line for line in texts.get(f"triage.message.{tier}", **params).split("\n") if line]
        assert str(params["sign"]) not in lines[0], lines[0]  # the action first, not the why
        assert "112" in lines[1]  # then the number
        assert len(lines) <= 2 + 3  # then at most three short lines
        assert all(len(line) <= 160 for line in lines[2:]), (language, tier)
    assert texts.get("triage.message.emergency").startswith(
        {"en": "Get ", "es": "Busca ", "de": "Hol "}[language])
