"""The screening before the stretches, end to end through the engine and the runtime.

A clear person gets to the stretches quickly; every sign has a button before the first
stretch; each sign, by every way it can arrive, leads to its tier's outcome; the
"I tapped it by mistake" correction re-asks just that one question.

The runtime is built here (not with ``tests.harness.make_runtime``) so that the engine,
the runtime and the reminder services all share one clock the test controls.
"""

from __future__ import annotations

from typing import Literal

import pytest

from back_care_guide.engine.events import TimerFired
from back_care_guide.flow.loader import FlowBundle
from back_care_guide.flow.texts import Texts
from back_care_guide.safety.triage_rules import Tier
from tests.harness import MONDAY_MORNING, ChatClient, FakeClock, Sent, read, stored_state

UID = 42
START = MONDAY_MORNING
EXERCISE_WORDS = ("knee", "twist", "hold for", "in position", "halfway")
MISTAP = "mistap"
NONE = "none"
TypedKind = Literal["message", "caption", "edited"]

@pytest.fixture(scope="module")
def en(bundle: FlowBundle) -> Texts:
    return bundle.texts("en")


# ----------------------------------------------------------------- helpers
def headline(bundle: FlowBundle, tier: Tier) -> str:
    """How a tier's outcome message begins (its first line, up to any placeholder)."""
    text = bundle.texts("en").get(bundle.triage.tiers.rule(tier).message)
    return text.splitlines()[0].split("{")[0]


def screening_states(bundle: FlowBundle) -> list[str]:
    """The flow's screen states of the session, in the order they are asked."""
    order: list[str] = []
    state: str | None = bundle.flow.states["welcome"].choices[0].to
    while state is not None and bundle.flow.states[state].kind == "screen":
        order.append(state)
        state = bundle.flow.states[state].next
    return order


def group_of_state(bundle: FlowBundle, state: str) -> str:
    group = bundle.flow.states[state].group
    assert group is not None
    return group


def exercise_cues(texts: list[str]) -> list[str]:
    return [t for t in texts if any(word in t.lower() for word in EXERCISE_WORDS)]


async def press(chat: ChatClient, choice: str, prompt: Sent | None = None) -> None:
    """Tap a button by its choice id (labels can repeat: "No" and "None of these")."""
    prompt = prompt or chat.last_prompt()
    labels = {b.choice: b.label for b in prompt.buttons}
    assert choice in labels, f"no choice {choice!r} on {prompt.text[:60]!r}: {labels}"
    await chat.click(labels[choice], prompt)


def prompt_with(chat: ChatClient, choice: str) -> Sent:
    """The latest message carrying a button with this choice id."""
    for message in reversed(chat.messages):
        if any(b.choice == choice for b in message.buttons):
            return message
    raise AssertionError(f"no message with a {choice!r} button")


async def to_group(chat: ChatClient, bundle: FlowBundle, group: str) -> None:
    """From a new chat to the screening question of ``group``."""
    await chat.start()
    await press(chat, "agree")
    for state in screening_states(bundle):
        if group_of_state(bundle, state) == group:
            return
        await press(chat, NONE)
    raise AssertionError(f"group {group} is not asked in the session")


async def to_pain_before(chat: ChatClient, bundle: FlowBundle) -> None:
    await chat.start()
    await press(chat, "agree")
    for _ in screening_states(bundle):
        await press(chat, NONE)


async def to_first_check(chat: ChatClient, bundle: FlowBundle, clock: FakeClock) -> None:
    """Through the screening and the first knee-to-chest hold, at its pain check."""
    await to_pain_before(chat, bundle)
    await press(chat, "r2")
    await press(chat, "standard")
    await press(chat, "go")
    await fire_timers(chat, clock)


async def fire_timers(chat: ChatClient, clock: FakeClock) -> None:
    """Fire the stored timers of the running hold now, in order (no waiting)."""
    pending = sorted((p.timer for p in await read(chat.runtime.store, lambda tx: tx.timers.pending())
                      if p.user_id == chat.user_id), key=lambda t: t.due)
    for timer in pending:
        clock.now = max(clock.now, timer.due)
        await chat.runtime.dispatch(TimerFired(chat.user_id, timer.kind, timer.epoch))


async def state_of(chat: ChatClient) -> str:
    conv, _ = await stored_state(chat.runtime.store, chat.user_id)
    assert conv is not None
    return conv.state


async def finish_session(chat: ChatClient, bundle: FlowBundle, clock: FakeClock) -> None:
    """A whole clear session, up to the pain rating after the stretches."""
    await to_first_check(chat, bundle, clock)
    for step in ("fine", "go", "timers", "fine", "skip", "go", "timers", "fine", "go", "timers"):
        if step == "timers":
            await fire_timers(chat, clock)
        else:
            await press(chat, step)
    await press(chat, "fine")


# ----------------------------------------------------------------- a clear person
def taps_to_first_stretch(bundle: FlowBundle) -> int:
    """Fewest taps from the welcome message to the first exercise step of the flow."""
    flow = bundle.flow
    exercise = bundle.safety.exercise_tag
    state, taps = flow.start, 0
    while exercise not in flow.states[state].tags:
        current = flow.states[state]
        if current.kind == "screen" or current.kind == "rating":
            nxt = current.next
        else:
            nxt = next(c.to for c in current.choices if c.to)
        assert nxt is not None
        state, taps = nxt, taps + 1
    return taps


async def test_a_clear_person_reaches_the_safety_questions_end_in_six_taps(
        chat: ChatClient, bundle: FlowBundle, en: Texts) -> None:
    await chat.start()
    welcome = len(chat.messages)
    taps = 0
    await press(chat, "agree")
    taps += 1
    for _ in screening_states(bundle):
        await press(chat, NONE)
        taps += 1
    await press(chat, "r3")
    taps += 1
    assert taps == 6
    assert en.get("prep.clear") in "\n".join(chat.texts[welcome:])
    assert exercise_cues(chat.texts) == []


async def test_the_first_stretch_is_the_screening_plus_the_hold_length(
        chat: ChatClient, bundle: FlowBundle, en: Texts) -> None:
    """Screening (agree, four lists, the pain rating) is at most 6 taps; the one tap more
    before the first stretch chooses the hold length, which is not a safety question."""
    await chat.start()
    taps = 0
    title = en.get("ktc.title")
    while not chat.saw(title):
        prompt = chat.last_prompt()
        choices = [b.choice for b in prompt.buttons]
        pick = next(c for c in ("agree", NONE, "r3", "standard") if c in choices)
        await press(chat, pick)
        taps += 1
        assert taps < 20
    assert taps == taps_to_first_stretch(bundle)
    assert taps <= 6 + 1


async def test_the_stop_rule_is_said_before_the_first_stretch(
        chat: ChatClient, bundle: FlowBundle, en: Texts) -> None:
    await to_pain_before(chat, bundle)
    await press(chat, "r3")
    await press(chat, "standard")
    texts = chat.texts
    rule = next(i for i, t in enumerate(texts) if en.get("prep.stop_rule") in t)
    first = next(i for i, t in enumerate(texts) if exercise_cues([t]))
    assert rule < first
    assert "sharp pain" in en.get("prep.stop_rule")


# ----------------------------------------------------------------- buttons for every sign
def test_every_sign_has_a_screening_button_before_the_first_stretch(bundle: FlowBundle) -> None:
    rules = bundle.triage
    asked = {sign for state in screening_states(bundle)
             for sign in rules.groups[group_of_state(bundle, state)].signs}
    expected = set(rules.signs) - {rules.pain_scale.sign} - {
        name for name, sign in rules.signs.items() if sign.level is Tier.STOP_TODAY}
    assert asked == expected
    # and every screen state of the session is on the safety checker's mandatory list
    assert set(screening_states(bundle)) <= set(bundle.safety.screening)
    assert "pain_before" in bundle.safety.screening


async def test_the_buttons_shown_before_the_first_stretch_cover_every_sign(
        chat: ChatClient, bundle: FlowBundle, clock: FakeClock) -> None:
    await to_first_check(chat, bundle, clock)
    title = bundle.texts("en").get("ktc.title")
    first = next(i for i, m in enumerate(chat.messages) if title in m.text)
    shown = {b.choice for m in chat.messages[:first] for b in m.buttons}
    rules = bundle.triage
    missing = set(rules.signs) - shown - {rules.pain_scale.sign, "sharp_pain"}
    assert missing == set()
    assert {f"r{n}" for n in range(11)} <= shown  # the pain scale, for severe pain


GROUP_SIGNS = [
    ("cauda_equina", "bladder_bowel"), ("cauda_equina", "urinary_retention"),
    ("cauda_equina", "saddle_numbness"), ("cauda_equina", "sexual_dysfunction"),
    ("legs", "both_legs"), ("legs", "leg_weakness_severe"), ("legs", "leg_weakness"),
    ("legs", "leg_numbness"), ("back", "disc_problem"), ("back", "osteoporosis"),
    ("back", "recent_injury"), ("back", "back_surgery"), ("back", "constant_pain"),
    ("back", "chronic_pain"), ("back", "night_pain"), ("health", "fever"),
    ("health", "cancer_history"), ("health", "weight_loss"), ("health", "steroids"),
    ("health", "immunosuppression"), ("health", "iv_drugs"),
]


def test_the_sign_list_here_matches_flows_triage_yaml(bundle: FlowBundle) -> None:
    groups = bundle.triage.groups
    assert [(g, sign) for g, group in groups.items() for sign in group.signs] == GROUP_SIGNS


@pytest.mark.parametrize(("group", "sign"), GROUP_SIGNS)
async def test_each_sign_button_leads_to_its_tier_outcome(
        chat: ChatClient, bundle: FlowBundle, en: Texts, group: str, sign: str) -> None:
    rules = bundle.triage
    tier = rules.tier_of(sign)
    await to_group(chat, bundle, group)
    at = len(chat.messages)
    await press(chat, sign)
    first = chat.messages[at]
    assert first.text.startswith(headline(bundle, tier))
    assert en.get(rules.signs[sign].name) in first.text
    assert first.buttons == ()  # first and alone
    assert await state_of(chat) == rules.tiers.rule(tier).outcome
    _, profile = await stored_state(chat.runtime.store, UID)
    assert profile is not None and profile.hold is not None and profile.hold.sign == sign
    assert exercise_cues(chat.texts[at:]) == []


# ----------------------------------------------------------------- every input path
TYPED = {
    Tier.EMERGENCY: ("I've lost control of my bowels since this morning", "bladder_bowel"),
    Tier.URGENT: ("my left leg has gone numb from the knee down to my foot", "leg_numbness"),
    Tier.CLINICIAN: ("a scan showed a slipped disc in my lower back", "disc_problem"),
    Tier.STOP_TODAY: ("ouch, a stabbing pain in my back just now", "sharp_pain"),
}
BUTTON = {
    Tier.EMERGENCY: ("cauda_equina", "saddle_numbness"),
    Tier.URGENT: ("legs", "leg_weakness"),
    Tier.CLINICIAN: ("back", "night_pain"),
}
REDFLAGS = {Tier.EMERGENCY: (0, "urinary_retention"), Tier.URGENT: (1, "leg_numbness")}

PATHS: list[tuple[Tier, str]] = [
    *((tier, "button") for tier in (*BUTTON, Tier.STOP_TODAY)),
    *((tier, kind) for tier in TYPED for kind in ("message", "caption", "edited")),
    *((tier, "redflags") for tier in REDFLAGS),
    (Tier.CLINICIAN, "pain_before"), (Tier.CLINICIAN, "pain_before_typed"),
    (Tier.CLINICIAN, "pain_after"),
]


async def _arrive(chat: ChatClient, bundle: FlowBundle, clock: FakeClock, tier: Tier,
                  path: str) -> tuple[int, str]:
    """Bring the sign in by ``path``; returns where its messages start and the sign."""
    if path == "button" and tier is Tier.STOP_TODAY:
        await to_first_check(chat, bundle, clock)
        at = len(chat.messages)
        await press(chat, "pain")  # "Yes, sharp pain" at the check after a stretch
        return at, "sharp_pain"
    if path == "button":
        group, sign = BUTTON[tier]
        await to_group(chat, bundle, group)
        at = len(chat.messages)
        await press(chat, sign)
        return at, sign
    if path in ("message", "caption", "edited"):
        text, sign = TYPED[tier]
        await to_group(chat, bundle, "legs")
        at = len(chat.messages)
        kind: TypedKind = "message" if path == "message" else (
            "caption" if path == "caption" else "edited")
        await chat.send(text, kind)
        return at, sign
    if path == "redflags":
        skip, sign = REDFLAGS[tier]
        await chat.start()
        await chat.command("redflags")
        for _ in range(skip):
            await press(chat, NONE)
        at = len(chat.messages)
        await press(chat, sign)
        return at, sign
    if path in ("pain_before", "pain_before_typed"):
        await to_pain_before(chat, bundle)
        at = len(chat.messages)
        if path == "pain_before":
            await press(chat, "r8")
        else:
            await chat.send("9")
        return at, "severe_pain"
    assert path == "pain_after"
    await finish_session(chat, bundle, clock)
    at = len(chat.messages)
    await press(chat, "r7")
    return at, "severe_pain"


@pytest.mark.parametrize(("tier", "path"), PATHS, ids=[f"{t.value}-{p}" for t, p in PATHS])
async def test_each_tier_message_through_every_input_path(
        chat: ChatClient, bundle: FlowBundle, en: Texts, clock: FakeClock, tier: Tier,
        path: str) -> None:
    at, sign = await _arrive(chat, bundle, clock, tier, path)
    first = chat.messages[at]
    assert first.text.startswith(headline(bundle, tier)), first.text
    name = en.get(bundle.triage.signs[sign].name)
    assert name.lower() in first.text.lower()
    assert await state_of(chat) == bundle.triage.tiers.rule(tier).outcome
    events = await read(chat.runtime.store, lambda tx: tx.safety_events.for_user(UID))
    assert [(e.kind, e.sign) for e in events] == [("reported", sign)]
    await chat.send("I'm in position")
    await chat.command("start")
    assert exercise_cues(chat.texts[at:]) == []


# ----------------------------------------------------------------- the questions
TIME_FRAME = ("since", "in the last", "last few", "new", "recent", "day by day", "ever",
              "more than", "for over", "months", "weeks")


@pytest.mark.parametrize("sign", [
    s for s in (
        "bladder_bowel", "urinary_retention", "saddle_numbness", "sexual_dysfunction",
        "both_legs", "leg_weakness_severe", "leg_weakness", "leg_numbness", "disc_problem",
        "osteoporosis", "recent_injury", "back_surgery", "constant_pain", "chronic_pain",
        "night_pain", "fever", "cancer_history", "weight_loss", "steroids",
        "immunosuppression", "iv_drugs", "severe_pain", "sharp_pain")])
def test_no_sign_question_asks_about_right_now(bundle: FlowBundle, en: Texts, sign: str) -> None:
    question = en.get(bundle.triage.signs[sign].question)
    assert "right now" not in question.lower()


@pytest.mark.parametrize("sign", ["bladder_bowel", "urinary_retention", "saddle_numbness",
                                  "sexual_dysfunction", "both_legs", "leg_weakness_severe",
                                  "leg_weakness", "leg_numbness"])
def test_red_flag_questions_give_a_time_frame(bundle: FlowBundle, en: Texts, sign: str) -> None:
    question = en.get(bundle.triage.signs[sign].question).lower()
    assert any(frame in question for frame in TIME_FRAME), question


async def test_the_confirmation_asked_for_a_hedged_mention(chat: ChatClient, en: Texts,
                                                           bundle: FlowBundle) -> None:
    await to_group(chat, bundle, "legs")
    at = len(chat.messages)
    await chat.send("my foot feels a bit tingly I think")
    (asked,) = chat.messages[at:]
    assert en.get("triage.confirm") in asked.text
    assert en.get("triage.question.leg_numbness").split(",")[0] in asked.text
    assert "right now" not in asked.text.lower()
    assert [b.choice for b in asked.buttons] == ["yes", "no"]
    await press(chat, "yes")
    assert chat.messages[at + 1].text.startswith(headline(bundle, Tier.URGENT))


# ----------------------------------------------------------------- mis-tap
async def _mistap_setup(chat: ChatClient, bundle: FlowBundle) -> tuple[int, Sent]:
    await to_group(chat, bundle, "legs")
    group_prompt = chat.last_prompt()
    at = len(chat.messages)
    await press(chat, "leg_weakness")
    return at, group_prompt


async def test_mistap_urgent_message_first_then_the_offer(chat: ChatClient, bundle: FlowBundle,
                                                          en: Texts) -> None:
    at, _ = await _mistap_setup(chat, bundle)
    urgent, offer = chat.messages[at], chat.messages[at + 1]
    assert urgent.text.startswith(headline(bundle, Tier.URGENT))
    assert urgent.buttons == ()
    assert offer.text == en.get("triage.mistap_ask")
    assert [b.choice for b in offer.buttons] == [MISTAP]
    assert urgent.text not in offer.text  # separate messages: the advice is never skipped


async def test_mistap_no_lifts_the_hold_and_returns_to_the_same_group(
        chat: ChatClient, bundle: FlowBundle, en: Texts) -> None:
    _, group_prompt = await _mistap_setup(chat, bundle)
    await press(chat, MISTAP, prompt_with(chat, MISTAP))
    asked = chat.last_prompt()
    assert en.get("triage.mistap_recheck") in asked.text
    assert en.get("triage.question.leg_weakness") in asked.text
    for other in ("both_legs", "leg_numbness", "bladder_bowel"):  # that one question only
        assert en.get(f"triage.question.{other}") not in asked.text
    assert [b.choice for b in asked.buttons] == ["yes", "no"]
    await press(chat, "no")
    back = chat.last_prompt()
    assert back.text == group_prompt.text
    assert [b.choice for b in back.buttons] == [b.choice for b in group_prompt.buttons]
    _, profile = await stored_state(chat.runtime.store, UID)
    assert profile is not None and profile.hold is None
    events = await read(chat.runtime.store, lambda tx: tx.safety_events.for_user(UID))
    assert [(e.kind, e.tier, e.sign) for e in events] == [
        ("reported", "urgent", "leg_weakness"), ("corrected", "urgent", "leg_weakness")]
    await press(chat, NONE)  # and the screening goes on from there
    assert en.get("screen.three") in chat.texts[-1]


async def test_mistap_yes_gives_urgent_care_again_without_another_offer(
        chat: ChatClient, bundle: FlowBundle) -> None:
    await _mistap_setup(chat, bundle)
    await press(chat, MISTAP, prompt_with(chat, MISTAP))
    at = len(chat.messages)
    await press(chat, "yes")
    assert chat.messages[at].text.startswith(headline(bundle, Tier.URGENT))
    assert all(b.choice != MISTAP for m in chat.messages[at:] for b in m.buttons)
    assert await state_of(chat) == "urgent_care"
    _, profile = await stored_state(chat.runtime.store, UID)
    assert profile is not None and profile.hold is not None
    assert profile.hold.sign == "leg_weakness"


async def test_mistap_offer_is_one_use(chat: ChatClient, bundle: FlowBundle) -> None:
    await _mistap_setup(chat, bundle)
    offer = prompt_with(chat, MISTAP)
    await press(chat, MISTAP, offer)
    asked = len(chat.messages)
    await press(chat, MISTAP, offer)  # a second tap on the same offer
    assert len(chat.messages) == asked
    assert "This question has moved on." in chat.toasts


async def test_mistap_correction_keeps_an_earlier_outcome(chat: ChatClient, bundle: FlowBundle
                                                          ) -> None:
    await chat.start()
    await chat.send("my left leg has gone numb from the knee down to my foot")  # urgent
    await chat.command("redflags")
    await press(chat, "bladder_bowel")  # tapped by mistake: emergency, replaces the hold
    await press(chat, MISTAP, prompt_with(chat, MISTAP))
    await press(chat, "no")
    _, profile = await stored_state(chat.runtime.store, UID)
    assert profile is not None and profile.hold is not None
    assert profile.hold.sign == "leg_numbness"
    at = len(chat.messages)
    await chat.start()
    assert not chat.texts[at].startswith("Hi, I'm Back Care Guide")
