"""The guided session, driven through the engine and runtime with no transport."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from back_care_guide.engine.events import Start, TimerFired
from back_care_guide.flow.loader import FlowBundle
from back_care_guide.safety.triage import Triage
from tests.harness import ChatClient, make_runtime, read, stored_state

SCREENING = 4  # screening lists ("None of these") before the pain rating
EXERCISE_WORDS = ("knee", "twist", "in position", "hold for")


async def through_screening(client: ChatClient) -> None:
    await client.start()
    await client.click("let's start")
    for _ in range(SCREENING):
        await client.click("None of these")
    await client.click("4")  # pain before, 0-10


async def into_hold(client: ChatClient, length: str = "Longer") -> None:
    """Screening passed, the first knee-to-chest hold running (30 s x 0.005 = 0.15 s)."""
    await through_screening(client)
    await client.click(length)
    await client.click("in position")


async def hold_and_check(client: ChatClient, release_text: str) -> None:
    await client.click("in position")
    await client.wait_for(release_text)
    await client.click("No pain")


def exercise_messages(client: ChatClient, after: int) -> list[str]:
    return [t for t in client.texts[after:] if any(w in t.lower() for w in EXERCISE_WORDS)]


async def test_happy_path(client: ChatClient) -> None:
    await through_screening(client)
    assert client.saw("0 is no pain, 10 the worst imaginable")
    assert client.saw("firm, flat surface") and client.saw("exhale")
    await client.click("Standard")
    assert client.saw("interlace your fingers")
    await hold_and_check(client, "slowly return your leg")  # knee-to-chest left
    await hold_and_check(client, "slowly return your leg")  # right
    await client.click("both knees")
    await hold_and_check(client, "lower your legs back")
    assert client.saw("arms out to the sides in a T")
    await hold_and_check(client, "back to the centre")  # twist left
    await hold_and_check(client, "back to the centre")  # twist right
    assert "how much does your back hurt" in client.texts[-1]
    await client.send("2")  # typing the number works like the button
    assert client.saw("Well done")
    assert client.saw("overstretch the ligaments")
    assert client.saw("bladder or bowel changes")
    holds = [t for t in client.texts if ("Hold for" in t or "twist for" in t) and "Halfway" not in t]
    assert len(holds) == 5
    assert "20 seconds" in holds[0] and "25 seconds" in holds[-1]
    assert client.saw("Halfway there")


async def test_hold_length_choice(client: ChatClient) -> None:
    await into_hold(client)
    assert "Hold for 30 seconds" in client.texts[-1]


@pytest.mark.parametrize(("lists", "button", "opening"), [
    (0, "Leaking or accidents", "Get emergency help now"),
    (0, "Numb between the legs", "Get emergency help now"),
    (1, "Both legs affected", "Get emergency help now"),
    (1, "Numbness down a leg", "Get medical help now"),
])
async def test_each_red_flag_answer_goes_to_urgent_care(client: ChatClient, lists: int,
                                                        button: str, opening: str) -> None:
    now = [1_000_000.0]
    client.runtime.engine.clock = lambda: now[0]
    await client.start()
    await client.click("let's start")
    for _ in range(lists):
        await client.click("None of these")
    at = len(client.texts)
    await client.click(button)
    urgent, mistap, country = client.messages[at:]
    assert urgent.text.startswith(opening)  # the action first
    assert "112" in urgent.text and "911" in urgent.text and "999" in urgent.text
    assert urgent.buttons == ()  # it comes first and alone, no exercise buttons
    assert [b.label for b in mistap.buttons] == ["I tapped it by mistake"]
    assert "Which country" in country.text
    await client.click("Germany")
    assert client.texts[-1] == "Saved: Germany. Emergency number: 112."
    await client.start()  # the next session starts with the urgent advice, now for Germany
    assert "112" in client.texts[-1] and "911" not in client.texts[-1]
    assert "from tomorrow at" in client.texts[-1]  # "cleared" is not accepted yet
    assert client.messages[-1].buttons == ()
    now[0] += 25 * 3600
    await client.start()
    await client.click("Not yet")
    assert "get checked first" in client.texts[-1]
    await client.start()
    await client.click("cleared")
    await client.click("No")  # the reported sign is asked again first
    assert "Shall we start?" in client.texts[-1]


@pytest.mark.parametrize(("lists", "button", "expect"), [
    (2, "Known disc problem", "a known disc problem"),
    (2, "Severe osteoporosis", "severe osteoporosis"),
    (2, "Recent fall or injury", "a recent fall, accident or injury"),
    (2, "Pain wakes me at night", "pain that wakes you at night"),
    (3, "Fever or unwell", "a fever or feeling unwell"),
])
async def test_clinician_first_signs_end_without_exercise(client: ChatClient, lists: int,
                                                          button: str, expect: str) -> None:
    await client.start()
    await client.click("let's start")
    for _ in range(lists):
        await client.click("None of these")
    await client.click(button)
    assert expect in client.texts[-2]
    assert "physician or physical therapist" in client.texts[-2]
    end = len(client.texts)
    # Pressing on: an old button, typing a label, /stop, /start.
    await client.click("None of these", client.messages[end - 3])
    await client.send("I'm in position")
    await client.send("None of these")
    await client.command("stop")
    await client.start()
    assert exercise_messages(client, end) == []
    assert "This question has moved on." in client.toasts


async def test_stop_mid_hold_cancels_the_timer(client: ChatClient) -> None:
    await into_hold(client)
    hold = client.last_prompt()
    await client.click("Stop", hold)
    stopped_at = len(client.texts)
    assert "Stopped" in client.texts[-1]
    await asyncio.sleep(0.4)  # well past the hold's end
    assert client.texts[stopped_at:] == []
    assert not client.runtime._handles


async def test_warning_button_mid_hold_pauses_and_asks(client: ChatClient) -> None:
    await into_hold(client)
    await client.click("Warning sign")
    asked_at = len(client.texts)
    assert "Leaking urine or stools" in client.texts[-1]
    await asyncio.sleep(0.4)
    assert client.texts[asked_at:] == []  # the hold was paused, nothing of it arrives
    for _ in range(2):
        await client.click("None of these")
    assert client.saw("No warning signs today")
    await client.click("Continue")
    assert "Tap when you're in position" in client.texts[-1]  # back to the same stretch


async def test_pain_after_a_stretch_stops_the_session(client: ChatClient) -> None:
    await into_hold(client, "Standard")
    await client.wait_for("slowly return your leg")
    await client.click("sharp pain")
    end = len(client.texts)
    assert client.texts[-1].startswith("Stop the stretch now")
    assert "no more stretches today" in client.texts[-1]
    await client.send("I'm in position")
    await client.start()  # the same day: no new session
    assert "no more stretches today" in client.texts[-1]
    assert exercise_messages(client, end) == []


async def test_why_does_it_pop_returns_to_where_the_user_was(client: ChatClient) -> None:
    await client.start()
    await client.click("Why does it pop")
    assert client.saw("facet joints") and client.saw("synovial fluid") and client.saw("bubble")
    await client.click("let's start")
    assert "Leaking urine" in client.texts[-1]


async def test_stale_button_is_answered_and_changes_nothing(client: ChatClient) -> None:
    await client.start()
    welcome = client.last_prompt()
    await client.click("let's start")
    before = list(client.texts)
    await client.click("let's start", welcome)
    assert client.texts == before
    assert client.toasts == ["This question has moved on."]


async def test_red_flag_typed_mid_hold(client: ChatClient) -> None:
    await into_hold(client)
    await client.send("my left leg went numb all the way down to my foot")
    at = len(client.texts)
    assert client.texts[-2].startswith("Get medical help now")
    await asyncio.sleep(0.4)
    assert client.texts[at:] == []  # nothing of the hold arrives afterwards
    await client.send("I'm in the UK")
    assert client.texts[-1] == "Saved: United Kingdom. Emergency number: 999, 112."
    await client.start()  # the next session starts with the urgent advice
    assert "A doctor should check that straight away" in client.texts[-1]
    assert exercise_messages(client, at) == []


async def test_restart_mid_hold_resumes(bundle: FlowBundle, triage: Triage,
                                        tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    runtime, transport = make_runtime(bundle, triage, db, time_scale=0.02)  # 20 s -> 0.4 s
    await runtime.start()
    client = ChatClient(runtime, transport)
    await into_hold(client, "Standard")
    await runtime.close()  # the process goes away mid-hold

    fresh, transport2 = make_runtime(bundle, triage, db, time_scale=0.02)
    await fresh.start()
    try:
        resumed = ChatClient(fresh, transport2)
        await resumed.wait_for("slowly return your leg", timeout=3)
        await resumed.click("No pain")
        assert "right knee" in resumed.texts[-1]
    finally:
        await fresh.close()


async def test_a_hold_that_ended_long_ago_asks_before_resuming(client: ChatClient) -> None:
    await into_hold(client, "Standard")
    conv, _ = await client.runtime._load(client.user_id)
    epoch = conv.ctx["epoch"]
    client.runtime._cancel(client.user_id)
    await client.runtime.dispatch(TimerFired(client.user_id, "release", epoch, late_by=3600))
    assert "paused while I was offline" in client.texts[-1]
    await client.click("Resume")
    assert "Tap when you're in position" in client.texts[-1]


async def test_stale_timer_is_ignored(client: ChatClient) -> None:
    await into_hold(client, "Standard")
    before = len(client.texts)
    await client.runtime.dispatch(TimerFired(client.user_id, "release", 999))
    assert len(client.texts) == before


async def test_free_text_without_meaning_points_to_the_buttons(client: ChatClient) -> None:
    await client.start()
    await client.send("hello there")
    assert client.texts[-1] == "First, four short lists of safety questions. Shall we start?"
    assert client.messages[-1].buttons[0].label == "I understand, let's start"
    await into_hold(client)
    await client.send("hello there")
    assert "use the buttons" in client.texts[-1]
    await client.send("x" * 3000)
    assert "too long" in client.texts[-1]
    await client.command("dance")
    assert "don't know that command" in client.texts[-1]


@pytest.mark.parametrize(("typed", "expect"), [
    ("nope", "Sudden weakness in a leg"), ("n", "Sudden weakness in a leg"),
    ("nah I'm fine", "Sudden weakness in a leg"), ("None of these.", "Sudden weakness in a leg"),
    ("yes", "Since your back pain began"),  # not clear which sign: the list again
])
async def test_typed_answers_at_a_screening_list(client: ChatClient, typed: str,
                                                 expect: str) -> None:
    await client.start()
    await client.click("let's start")
    await client.send(typed)
    assert expect in client.texts[-1]
    assert not client.saw("Get emergency help")


async def test_typed_answers_at_the_pain_scale_and_choices(client: ChatClient) -> None:
    await client.start()
    await client.click("let's start")
    for _ in range(4):
        await client.click("None of these")
    await client.send("four")
    assert "How long should each hold be" in client.texts[-1]
    await client.send("longer please")
    assert "interlace your fingers" in client.texts[-1]
    sessions_ctx = (await client.runtime._load(client.user_id))[0].ctx
    assert sessions_ctx["pain_before"] == 4 and sessions_ctx["hold"] == "long"


@pytest.mark.parametrize("typed", ["4/10", "4 out of 10", " 4 "])
async def test_typed_pain_scores(client: ChatClient, typed: str) -> None:
    await client.start()
    await client.click("let's start")
    for _ in range(4):
        await client.click("None of these")
    await client.send(typed)
    assert "How long should each hold be" in client.texts[-1]


async def test_typed_label_works_like_a_button(client: ChatClient) -> None:
    await client.start()
    await client.send("I understand, let's start")
    await client.send("none of these")
    assert "Sudden weakness in a leg" in client.texts[-1]


async def test_country_command_any_time(client: ChatClient) -> None:
    await client.start()
    await client.command("country")
    await client.send("narnia")
    assert "don't know that country" in client.texts[-1]
    await client.send("Deutschland")
    assert client.texts[-2] == "Saved: Germany. Emergency number: 112."
    assert "Shall we start?" in client.texts[-1]  # back to where the user was


async def test_unsure_mention_after_the_session_can_be_answered_no(client: ChatClient) -> None:
    await client.start()
    await client.command("stop")
    await client.send("my foot feels kind of tingly maybe")
    assert "in the last few weeks" in client.texts[-1].lower()
    assert "right now" not in client.texts[-1].lower()
    await client.click("No")
    assert "Send /start whenever" in client.texts[-1]


async def test_unsure_mention_mid_hold_pauses_and_resumes(client: ChatClient) -> None:
    await into_hold(client)
    await client.send("my foot feels kind of tingly maybe")
    at = len(client.texts)
    await asyncio.sleep(0.4)
    assert client.texts[at:] == []  # the hold is paused while the question waits
    await client.click("No")
    assert "Tap when you're in position" in client.texts[-1]


async def test_sessions_are_logged_with_pain_ratings(client: ChatClient) -> None:
    await into_hold(client, "Standard")
    await client.wait_for("slowly return your leg")
    await client.click("sharp pain")
    now = time.time() + 86400  # the next day: stop-today is over
    client.runtime.engine.clock = lambda: now
    await client.start()
    await client.click("let's start")
    await client.click("Leaking or accidents")  # a red flag
    sessions = await read(client.runtime.store, lambda tx: tx.sessions.since(client.user_id, 0))
    assert [(s.outcome, s.pain_before, s.pain_after) for s in sessions] == [
        ("pain", 4, None), ("red_flag", None, None)]


async def test_only_the_end_of_a_hold_is_meant_to_be_noticed(client: ChatClient) -> None:
    await into_hold(client, "Standard")
    await client.wait_for("slowly return your leg")
    hold = next(m for m in client.transport.sent if "Hold for" in m.text)
    halfway = next(m for m in client.transport.sent if "Halfway" in m.text)
    release = next(m for m in client.transport.sent if "Slowly return your leg" in m.text)
    sent = client.transport.sent
    assert [m.silent for m in (hold, halfway, release)] == [True, True, False]
    assert release.wake and not hold.wake
    assert not any(m.silent for m in sent if m not in (hold, halfway))


async def test_the_language_from_telegram_is_kept_only_when_the_bot_speaks_it(
        client: ChatClient) -> None:
    """Telegram's language_code: "en-GB" is English; a language the bot has no texts for is
    not kept, and the person gets English."""
    await client.runtime.dispatch(Start(client.user_id, "en-GB"))
    _, profile = await stored_state(client.runtime.store, client.user_id)
    assert profile is not None and profile.language == "en"
    other = ChatClient(client.runtime, client.transport, user_id=77)
    await other.runtime.dispatch(Start(77, "xx-YY"))
    _, profile = await stored_state(client.runtime.store, 77)
    assert profile is not None and profile.language is None
    assert "Shall we start?" in other.texts[-1]
