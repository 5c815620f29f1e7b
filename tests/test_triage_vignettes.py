"""Short case descriptions (tests/data/triage_vignettes.yaml), typed in five places of a
session, must each end in their tier's outcome, with no exercise cue afterwards.

Run with ``-s`` for a per-tier table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from back_care_guide.data import flows_dir
from back_care_guide.engine.events import Timer, TimerFired
from back_care_guide.flow.loader import FlowBundle
from back_care_guide.safety.triage_rules import Tier
from tests.harness import ChatClient, FakeClock, read
from tests.test_screening import (
    exercise_cues,
    finish_session,
    headline,
    press,
    state_of,
    to_group,
    to_pain_before,
)

DATA = Path(__file__).parent / "data" / "triage_vignettes.yaml"
STATES = ("welcome", "screening", "mid_hold", "closing", "idle")
TIERS = ("emergency", "urgent", "clinician", "stop_today", "ok")


@dataclass(frozen=True)
class Case:
    text: str
    tier: str
    sign: str | None = None
    hedged: bool = False
    known_miss: str | None = None


def load_cases() -> list[Case]:
    raw = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    return [Case(**item) for item in raw["cases"]]


CASES = load_cases()
RESULTS: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))


def params() -> Iterator[object]:
    for number, case in enumerate(CASES):
        marks = [pytest.mark.xfail(strict=True, reason=f"KNOWN MISS: {case.known_miss}")
                 ] if case.known_miss else []
        for state in STATES:
            yield pytest.param(case, state, id=f"{number:02d}-{case.tier}-{state}", marks=marks)


@pytest.fixture(scope="module", autouse=True)
def tier_table() -> Iterator[None]:
    yield
    if not RESULTS:
        return
    header = f"{'tier':<11} {'cases':>5} " + " ".join(f"{s:>9}" for s in STATES)
    lines = ["", "triage vignettes: runs passed / run, per state", header, "-" * len(header)]
    for tier in TIERS:
        cases = sum(1 for c in CASES if c.tier == tier)
        cells = []
        for state in STATES:
            runs = RESULTS[tier][state]
            cells.append(f"{sum(runs)}/{len(runs)}".rjust(9))
        lines.append(f"{tier:<11} {cases:>5} " + " ".join(cells))
    print("\n".join(lines))


def test_the_vignettes_cover_every_tier_and_many_signs(bundle: FlowBundle) -> None:
    assert len(CASES) >= 70
    by_tier = {tier: [c for c in CASES if c.tier == tier] for tier in TIERS}
    assert all(len(cases) >= 8 for cases in by_tier.values())
    signs = {c.sign for c in CASES if c.sign}
    assert signs <= set(bundle.triage.signs)
    assert signs == set(bundle.triage.signs)  # every sign has at least one case
    for case in CASES:
        if case.sign:
            assert bundle.triage.tier_of(case.sign).value == case.tier, case
        assert not case.hedged or case.tier in ("emergency", "urgent"), case
    assert len({c.text.casefold() for c in CASES}) == len(CASES)


def test_the_vignettes_are_not_copied_from_the_detector_corpus() -> None:
    corpus = (flows_dir() / "corpora" / "en.yaml").read_text(encoding="utf-8").casefold()
    copied = [c.text for c in CASES if f'"{c.text.casefold()}"' in corpus]
    assert copied == []


# ----------------------------------------------------------------- getting there
async def go_to(chat: ChatClient, bundle: FlowBundle, clock: FakeClock, state: str) -> None:
    if state == "welcome":
        await chat.start()
    elif state == "screening":
        await to_group(chat, bundle, "legs")
    elif state == "mid_hold":
        await to_pain_before(chat, bundle)
        await press(chat, "r3")
        await press(chat, "standard")
        await press(chat, "go")  # the first knee-to-chest hold runs (10 s at this scale)
    elif state == "closing":
        await finish_session(chat, bundle, clock)
        await press(chat, "r2")
    else:
        await chat.start()
        await press(chat, "agree")
        await chat.command("stop")


async def timers_of(chat: ChatClient) -> list[Timer]:
    return sorted((p.timer for p in await read(chat.runtime.store, lambda tx: tx.timers.pending())
                   if p.user_id == chat.user_id), key=lambda t: t.due)


async def fire(chat: ChatClient, clock: FakeClock, timers: list[Timer]) -> None:
    """What the hold's timers would do once their time has come (stale or not)."""
    for timer in timers:
        clock.now = max(clock.now, timer.due + 1)
        await chat.runtime.dispatch(TimerFired(chat.user_id, timer.kind, timer.epoch))


# ----------------------------------------------------------------- the cases
@pytest.mark.parametrize(("case", "state"), list(params()))
async def test_vignette(chat: ChatClient, bundle: FlowBundle, clock: FakeClock, case: Case,
                        state: str) -> None:
    await go_to(chat, bundle, clock, state)
    timers = await timers_of(chat)
    assert bool(timers) == (state == "mid_hold")
    passed = False
    try:
        if case.tier == "ok":
            await check_ok(chat, bundle, clock, case, state, timers)
        else:
            await check_outcome(chat, bundle, clock, case, timers)
        passed = True
    finally:
        RESULTS[case.tier][state].append(passed)


async def check_outcome(chat: ChatClient, bundle: FlowBundle, clock: FakeClock, case: Case,
                        timers: list[Timer]) -> None:
    en = bundle.texts("en")
    tier = Tier(case.tier)
    at = len(chat.messages)
    await chat.send(case.text)
    if case.hedged:
        asked = chat.messages[at]
        assert en.get("triage.confirm") in asked.text, asked.text
        assert "right now" not in asked.text.lower()
        at = len(chat.messages)
        await press(chat, "yes", asked)
    first = chat.messages[at]
    assert first.text.startswith(headline(bundle, tier)), first.text
    if tier in (Tier.EMERGENCY, Tier.URGENT):
        assert first.buttons == ()  # first and alone
    if case.sign:
        assert en.get(bundle.triage.signs[case.sign].name).lower() in first.text.lower()
    assert await state_of(chat) == bundle.triage.tiers.rule(tier).outcome
    # Nothing of an interrupted hold follows, even once its time has passed.
    assert not chat.runtime._handles.get(chat.user_id)
    assert await timers_of(chat) == []
    await fire(chat, clock, timers)
    await chat.send("I'm in position")
    await chat.start()
    assert exercise_cues(chat.texts[at:]) == []


async def check_ok(chat: ChatClient, bundle: FlowBundle, clock: FakeClock, case: Case,
                   state: str, timers: list[Timer]) -> None:
    en = bundle.texts("en")
    before = await state_of(chat)
    at = len(chat.messages)
    await chat.send(case.text)
    said = chat.texts[at:]
    outcomes = [headline(bundle, tier) for tier in (Tier.EMERGENCY, Tier.URGENT,
                                                    Tier.CLINICIAN, Tier.STOP_TODAY)]
    assert not any(h in text for h in outcomes for text in said), said
    assert not any(en.get("triage.confirm") in text for text in said), said
    after = await state_of(chat)
    assert await read(chat.runtime.store, lambda tx: tx.safety_events.for_user(chat.user_id)) == []
    # and the session goes on where it was (at a screening question, a plain "no ..."
    # may be read as its "None of these")
    if state == "screening" and after != before:
        assert after == bundle.flow.states[before].next
        assert en.get("screen.three") in chat.texts[-1]
        return
    assert after == before
    if state == "welcome":
        await press(chat, "agree")
        assert en.get("screen.intro") in chat.texts[-1]
    elif state == "screening":
        await press(chat, "none")
        assert en.get("screen.three") in chat.texts[-1]
    elif state == "mid_hold":
        await fire(chat, clock, timers)
        assert en.get("ktc.release") in chat.texts[-1]
    else:
        await chat.start()
        assert en.get("welcome.ask") in chat.texts[-1]
