"""Triage over the real bot process: sign buttons, typed, captioned and edited red flags,
clinician-first signs, severe pain, and outcomes that outlive a restart."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    CLINICIAN,
    EMERGENCY,
    FIRST_SCREEN,
    MISTAP,
    PAIN_BEFORE,
    PREPARE,
    STOP_TODAY,
    URGENT,
    BotProcess,
    Person,
    begin,
    clear_screening,
    screening,
)
from tests.standin import BotApiStandin
from tests.standin.models import StoredMessage

# Anything of the stretches: their texts, and the hold, halfway and release messages.
STRETCH_WORDS = ("knee-to-chest", "spinal twist", "Hold for", "Hold the gentle twist", "Halfway",
                 "Slowly return", "back to the centre", "Tap when you're in position",
                 "How long should each hold be")
STRETCH_BUTTONS = ("I'm in position", "Standard", "Shorter", "Longer", "No pain")
COUNTRY_ASK = "Which country are you in?"
MISTAP_BUTTON = "I tapped it by mistake"
WAIT_GATE = "I can offer the stretches again from"  # locked.wait, with {when}
REST_GATE = "You can try again tomorrow"  # locked.rest


def new_messages(person: Person) -> list[StoredMessage]:
    """The bot's messages since the person's last action."""
    return person.sent[person.mark:]


def labels(message: StoredMessage) -> list[str]:
    markup = message.reply_markup or {}
    return [button["text"] for row in markup.get("inline_keyboard", []) for button in row]


def stretch_traces(messages: list[StoredMessage]) -> list[str]:
    """Texts or buttons of ``messages`` that belong to the stretches (should be none)."""
    texts = [m.text for m in messages if any(w.casefold() in m.text.casefold() for w in STRETCH_WORDS)]
    buttons = [b for m in messages for b in labels(m) if any(b.startswith(s) for s in STRETCH_BUTTONS)]
    return texts + buttons


def screening_traces(messages: list[StoredMessage]) -> list[str]:
    return [m.text for m in messages if "Safety check" in m.text or PAIN_BEFORE in m.text]


async def first_new(person: Person, text: str, timeout: float = 10.0) -> StoredMessage:
    """Wait for ``text``; it must be the first message the bot sent after the last action."""
    found = await person.expect(text, timeout)
    assert found is new_messages(person)[0], [m.text[:60] for m in new_messages(person)]
    return found


@asynccontextmanager
async def running(api: BotApiStandin, db: Path, env: dict[str, str] | None = None
                  ) -> AsyncIterator[BotProcess]:
    """A bot process that must end cleanly (exit 0, no handler errors)."""
    process = BotProcess(api, db, env)
    await process.start()
    try:
        yield process
    finally:
        code = await process.stop()
        assert " ERROR bot." not in process.log, process.log
        assert code == 0, process.log


async def test_screening_sign_button_gives_urgent_care_then_the_mistap_offer(
        api: BotApiStandin, bot: BotProcess, person: Person) -> None:
    await begin(person)
    await person.click("Numb between the legs")
    urgent = await first_new(person, EMERGENCY)
    assert "numbness between your legs" in urgent.text
    mistap = await person.expect(MISTAP)
    await api.wait_quiet(0.5)
    sent = new_messages(person)
    assert sent[:2] == [urgent, mistap]  # the advice first, then the offer
    assert labels(mistap) == [MISTAP_BUTTON]
    assert len(sent) == 3 and sent[2].text.startswith(COUNTRY_ASK)  # no country set yet
    assert stretch_traces(sent) == []
    assert screening_traces(sent) == []


async def test_red_flag_typed_mid_hold_ends_it_at_once(api: BotApiStandin, tmp_path: Path) -> None:
    scale = 0.05  # a 30-second hold lasts 1.5 s: the message surely arrives mid-hold
    async with running(api, tmp_path / "bot.db", {"FLOW_TIME_SCALE": str(scale)}):
        person = Person(api, 1001)
        await screening(person)
        await person.step("Longer", "knee-to-chest")
        await person.step("in position", "Hold for 30 seconds")
        loop = asyncio.get_running_loop()
        await person.send("my leg has gone numb all the way down to my foot")
        sent_at = loop.time()
        urgent = await first_new(person, URGENT, timeout=1.0)
        assert loop.time() - sent_at < 1.0
        assert "numbness or tingling travelling down a leg" in urgent.text
        await asyncio.sleep(30 * scale + 1.0)  # past the hold's end
        assert stretch_traces(new_messages(person)) == []
        assert not any("Any sharp pain" in t for t in person.texts[person.mark:])


async def test_photo_caption_reporting_a_red_flag_gives_urgent_care(
        api: BotApiStandin, bot: BotProcess, person: Person) -> None:
    await screening(person)
    await person.step("Standard", "knee-to-chest")
    person._act()
    api.send_photo(person.id, caption="Here's my back. Since this morning I can't feel the toilet "
                                      "paper when I wipe")
    urgent = await first_new(person, EMERGENCY)
    assert "numbness between your legs" in urgent.text
    await api.wait_quiet(0.5)
    assert not any("I can only read text" in m.text for m in new_messages(person))
    assert stretch_traces(new_messages(person)) == []


async def test_edited_message_reporting_a_red_flag_gives_urgent_care(
        api: BotApiStandin, bot: BotProcess, person: Person) -> None:
    await screening(person)
    await person.step("Standard", "knee-to-chest")
    person._act()
    update = api.send_text(person.id, "lying down now")
    await person.expect("Tap when you're in position")  # the question again
    person._act()
    api.edit_user_message(person.id, update["message"]["message_id"],
                          "actually my leg has gone numb all the way down to my foot")
    urgent = await first_new(person, URGENT)
    assert "numbness or tingling travelling down a leg" in urgent.text
    await api.wait_quiet(0.5)
    assert stretch_traces(new_messages(person)) == []


async def test_clinician_first_sign_typed_at_the_welcome(api: BotApiStandin, bot: BotProcess,
                                                         person: Person) -> None:
    await person.command("start")
    await person.expect("Shall we start?")
    await person.send("I have a slipped disc")
    clinician = await first_new(person, CLINICIAN)
    assert "a known disc problem" in clinician.text
    await api.wait_quiet(0.5)
    assert stretch_traces(new_messages(person)) == []
    assert screening_traces(new_messages(person)) == []
    assert not any(URGENT.casefold() in t.casefold() or EMERGENCY.casefold() in t.casefold()
                   for t in person.texts)  # clinician first is not urgent care
    # And /start the same day: the reminder and the wait, not the screening.
    await person.command("start")
    gate = await first_new(person, "you told me about a known disc problem")
    assert WAIT_GATE in gate.text
    await api.wait_quiet(0.5)
    assert screening_traces(new_messages(person)) == []
    assert stretch_traces(new_messages(person)) == []


async def test_urgent_care_sticks_across_a_kill_and_restart(api: BotApiStandin, tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    first = BotProcess(api, db)
    await first.start()
    person = Person(api, 1001)
    try:
        await begin(person)
        await person.click("Numb between the legs")
        await first_new(person, EMERGENCY)
    finally:
        await first.stop(signal.SIGKILL)  # at once: the advice was sent, so the outcome is stored
    async with running(api, db):
        await person.command("start")
        reminder = await first_new(person, "you told me about numbness between your legs")
        assert "get emergency help now" in reminder.text
        assert WAIT_GATE in reminder.text
        await api.wait_quiet(0.5)
        assert screening_traces(new_messages(person)) == []
        assert not any("Shall we start?" in m.text for m in new_messages(person))
        assert stretch_traces(new_messages(person)) == []


async def test_sharp_pain_then_start_the_same_day_rests(api: BotApiStandin, bot: BotProcess,
                                                        person: Person) -> None:
    await screening(person)
    await person.step("Standard", "knee-to-chest")
    await person.step("in position", "Hold for 20 seconds")
    await person.expect("Slowly return your leg")
    await person.click("Yes, sharp pain")
    await first_new(person, STOP_TODAY)
    await api.wait_quiet(0.5)
    assert stretch_traces(new_messages(person)) == []
    await person.command("start")
    rest = await first_new(person, "Earlier today you had sharp")
    assert REST_GATE in rest.text
    await api.wait_quiet(0.5)
    assert screening_traces(new_messages(person)) == []
    assert not any(FIRST_SCREEN in t for t in person.texts[person.mark:])
    assert stretch_traces(new_messages(person)) == []


@pytest.mark.parametrize("rating", ["7", "9"])
async def test_severe_pain_rating_before_the_stretches_is_clinician_first(
        api: BotApiStandin, bot: BotProcess, person: Person, rating: str) -> None:
    await begin(person)
    await clear_screening(person)
    await person.click(rating)
    clinician = await first_new(person, CLINICIAN)
    assert "severe pain (7 or more out of 10)" in clinician.text
    await api.wait_quiet(0.5)
    assert stretch_traces(new_messages(person)) == []
    assert not any(PREPARE in t for t in person.texts)


async def test_moderate_pain_rating_goes_on_to_the_stretches(api: BotApiStandin, bot: BotProcess,
                                                             person: Person) -> None:
    await begin(person)
    await clear_screening(person)
    await person.step("6", PREPARE)
    assert "Stop at once on sharp pain" in person.sent[-1].text  # the stop rule
    assert not any(CLINICIAN in t for t in person.texts)
