"""Media the bot can't read: a hold pauses and asks; a caption is read for safety."""

from __future__ import annotations

import asyncio

from back_care_guide.engine.events import Media, Priority
from tests.harness import ChatClient
from tests.test_flow import into_hold


async def test_a_voice_note_mid_hold_pauses_and_asks(client: ChatClient) -> None:
    await into_hold(client)
    await client.runtime.dispatch(Media(client.user_id, "voice"))
    asked = client.messages[-1]
    at = len(client.messages)
    assert "paused the stretch" in asked.text and "112" in asked.text
    assert asked.priority is Priority.SAFETY
    assert [b.label for b in asked.buttons] == ["Continue", "Stop", "Warning sign"]
    await asyncio.sleep(0.4)  # the hold's timers were cancelled
    assert len(client.messages) == at
    await client.click("Continue")
    assert "Tap when you're in position" in client.texts[-1]


async def test_a_sticker_mid_hold_then_warning_sign(client: ChatClient) -> None:
    await into_hold(client)
    await client.runtime.dispatch(Media(client.user_id, "sticker"))
    await client.click("Warning sign")
    assert "Leaking urine or stools" in client.texts[-1]


async def test_media_outside_a_hold_says_how_to_report_a_warning_sign(client: ChatClient) -> None:
    await client.start()
    await client.runtime.dispatch(Media(client.user_id, "photo"))
    assert "type it here or send /redflags" in client.texts[-1]


async def test_a_caption_with_a_red_flag_is_urgent(client: ChatClient) -> None:
    await client.start()
    await client.runtime.dispatch(Media(client.user_id, "photo", "my leg went numb down to my toes"))
    assert client.texts[-2].startswith("Get medical help now")


def test_group_advice_only_for_alarming_messages(client: ChatClient) -> None:
    engine = client.runtime.engine
    assert engine.group_advice("@backcarebot what stretches do you do?", "en") is None
    advice = engine.group_advice("@backcarebot I can't feel my bum and peed myself", "en")
    assert advice is not None and advice.priority is Priority.SAFETY
    assert advice.text.startswith("Get emergency help now")
    assert "112" in advice.text and "message me privately" in advice.text
