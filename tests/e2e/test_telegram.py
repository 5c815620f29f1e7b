"""The real bot process over the Bot API stand-in: sessions, faults, restarts, webhook."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.e2e.conftest import (
    EMERGENCY,
    FIRST_SCREEN,
    NONE_OF_THESE,
    TOKEN,
    URGENT,
    BotProcess,
    Person,
    full_session,
    screening,
)
from tests.standin import BotApiStandin

HOLD_WORDS = ("Hold for", "Halfway", "Slowly return", "twist for")


def hold_messages(person: Person, after: int) -> list[str]:
    return [t for t in person.texts[after:] if any(w in t for w in HOLD_WORDS)]


# The chat at the end of a completed session: the welcome; the first screening list (edited
# into the next three, the pain rating and the preparation); 4 position photos (each edited
# into its hold, then its halfway note) and the 4 ends of holds (the second edited into the
# both-knees offer, the fourth into the last pain rating and then the closing).
SESSION_MESSAGES = 10
# Bot API message calls (sends + edits) of that completed healthy session.
SESSION_CALLS = 26
MESSAGE_CALLS = ("sendmessage", "sendphoto", "editmessagetext", "editmessagecaption",
                 "editmessagereplymarkup", "editmessagemedia")


def message_calls(api: BotApiStandin) -> int:
    return sum(api.calls.get(method, 0) for method in MESSAGE_CALLS)


async def test_complete_session(api: BotApiStandin, bot: BotProcess, person: Person) -> None:
    await full_session(person)
    await api.wait_quiet(0.3)
    assert message_calls(api) == SESSION_CALLS <= 30
    assert len(person.sent) == SESSION_MESSAGES
    # The first screening list was edited into each next question, up to the preparation.
    first = person.sent[1]
    assert "You're clear to try the stretches" in first.text
    assert [m.get("text", "")[:22] for m in first.history[:5]] == [
        "Safety check, 1 of 4. ", "Safety check, 2 of 4.\n", "Safety check, 3 of 4.\n",
        "Safety check, 4 of 4.\n", "Before we start: how m"]
    # The command menu in every language, by language_code; English is the default.
    menus = {language: [c["description"] for c in commands]
             for (_, language), commands in api.core.commands.items()}
    assert sorted(menus) == ["", "de", "es"] and api.calls.get("setmycommands") == 3
    assert menus[""][0] == "Start a guided session" and menus["es"][0] != menus[""][0]
    assert "running (polling) as @" in bot.log
    # Each position step is a photo of the position, its caption the step; a picture is
    # uploaded once and re-sent by Telegram's file_id.
    photos = [m for m in person.sent if "photo" in m.data]
    assert [m.history[0]["caption"].split("\n")[0] for m in photos[:1]] == [
        "Stretch 1: single knee-to-chest."]
    assert len(photos) == 4  # both knees skipped: left and right knee, twist left and right
    first_photo, second = (m.data["photo"][-1]["file_id"] for m in photos[:2])
    assert first_photo == second
    # The hold is an edit of its photo (no notification), and so is the halfway note; the
    # end of the hold is a new message, and it notifies.
    assert all("Halfway there" in m.text and m.text.startswith("Hold") for m in photos)
    events = [e for e in api.events(person.id) if e.kind == "message"]
    said = [(str(e.data.get("text", "")), e.silent) for e in events]
    assert not any(silent for text, silent in said if "Slowly return your leg" in text)


async def test_stop_mid_hold(api: BotApiStandin, bot: BotProcess, person: Person) -> None:
    bot.env["FLOW_TIME_SCALE"] = "0.01"
    await screening(person)
    await person.step("Longer", "knee-to-chest")
    await person.step("in position", "Hold for 30 seconds")
    await person.step("Stop", "Stopped")
    at = len(person.sent)
    await asyncio.sleep(0.8)  # 30 s x 0.01 = 0.3 s: the hold would have ended by now
    assert hold_messages(person, at) == []


async def test_warning_sign_mid_hold(api: BotApiStandin, bot: BotProcess, person: Person) -> None:
    await screening(person)
    await person.step("Longer", "knee-to-chest")
    await person.step("in position", "Hold for 30 seconds")
    await person.step("Warning sign", "Quick warning-sign check")
    at = len(person.sent)
    await asyncio.sleep(0.8)
    assert hold_messages(person, at) == []
    await person.step("Leaking or accidents", EMERGENCY)
    await asyncio.sleep(0.5)
    assert hold_messages(person, at) == []


async def test_red_flag_typed_mid_hold(api: BotApiStandin, bot: BotProcess, person: Person) -> None:
    await screening(person)
    await person.step("Longer", "knee-to-chest")
    await person.step("in position", "Hold for 30 seconds")
    await person.send("my left leg, it went numb all the way down")
    loop = asyncio.get_running_loop()
    sent_at = loop.time()
    urgent = await person.expect(URGENT, timeout=1.0)
    assert urgent is person.sent[person.mark]  # first, and alone
    assert loop.time() - sent_at < 1.0
    at = len(person.sent)
    await asyncio.sleep(0.8)
    assert hold_messages(person, at) == []


async def test_negated_mention_changes_nothing(api: BotApiStandin, bot: BotProcess,
                                              person: Person) -> None:
    await screening(person)
    await person.step("Standard", "knee-to-chest")
    await person.send("no numbness or tingling, just a bit stiff")
    again = await person.expect("Tap when you're in position")  # the question again, nothing else
    await api.wait_quiet(0.3)
    assert person.sent[person.mark:] == [again]
    await person.step("in position", "Hold for 20 seconds")


async def test_redflags_command_mid_hold(api: BotApiStandin, bot: BotProcess, person: Person) -> None:
    await screening(person)
    await person.step("Longer", "knee-to-chest")
    await person.step("in position", "Hold for 30 seconds")
    await person.command("redflags")
    await person.expect("Quick warning-sign check")
    at = len(person.sent)
    for following in ("weakness in both legs", "No warning signs today"):
        await person.step(NONE_OF_THESE, following)
    await person.step("Continue", "Tap when you're in position")
    assert hold_messages(person, at) == []


async def test_kill_9_mid_hold_resumes(api: BotApiStandin, tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    first = BotProcess(api, db, {"FLOW_TIME_SCALE": "0.05"})  # 20 s hold = 1 s
    await first.start()
    person = Person(api, 1001)
    await screening(person)
    await person.step("Standard", "knee-to-chest")
    await person.step("in position", "Hold for 20 seconds")
    await first.stop(signal.SIGKILL)
    second = BotProcess(api, db, {"FLOW_TIME_SCALE": "0.05"})
    await second.start()
    try:
        await person.expect("Slowly return your leg", timeout=10)
        await person.step("No pain", "right knee")
    finally:
        assert await second.stop() == 0


async def test_every_third_call_gets_429(api: BotApiStandin, bot: BotProcess, person: Person) -> None:
    for method in ("sendMessage", "sendPhoto", "editMessageText", "editMessageCaption"):
        api.fail_every(method, 3, retry_after=1)
    await full_session(person)
    await api.wait_quiet(0.3)
    assert api.injected_429_count >= SESSION_CALLS // 3 - 4
    assert len(person.sent) == SESSION_MESSAGES  # every message exactly once
    assert "Well done" in person.texts[-1]


async def test_user_blocks_the_bot_mid_session(api: BotApiStandin, bot: BotProcess,
                                               person: Person) -> None:
    await screening(person)
    await person.step("Standard", "knee-to-chest")
    await person.click("in position")
    person.user.block()
    await asyncio.sleep(1.0)  # the release message hits 403; the bot carries on
    person.user.unblock()
    other = Person(api, 2002)
    await other.command("start")
    await other.expect("Shall we start?")
    await person.command("start")
    await person.expect("Shall we start?")


async def test_garbage_group_channel_and_media(api: BotApiStandin, bot: BotProcess,
                                               person: Person) -> None:
    api.push_update({"update_id": 999_999, "something_new": {"x": 1}})
    api.add_group(-100, "Back pain club")
    api.send_command(-100, "start", from_id=person.id)
    await api.wait_for_message(-100, "private", timeout=10)
    api.add_channel(-200, "News")
    api.send_channel_post(-200, "hello")
    await person.command("start")
    await person.expect("Shall we start?")
    for inject in (lambda: api.send_sticker(person.id, "😀"), lambda: api.send_voice(person.id, 3),
                   lambda: api.send_location(person.id, 52.5, 13.4)):
        person._act()
        inject()
        await person.expect("I can only read text")
    await person.command("dance")
    await person.expect("don't know that command")
    await person.step("let's start", FIRST_SCREEN)  # state unchanged by all of that
    assert [m for m in api.sent_messages(-200)] == []
    assert len([m for m in api.sent_messages(-100)]) == 1


async def test_photo_caption_with_a_red_flag_is_read(api: BotApiStandin, bot: BotProcess,
                                                     person: Person) -> None:
    await person.command("start")
    await person.expect("Shall we start?")
    person._act()
    api.send_photo(person.id, caption="I wet myself and didn't notice")
    await person.expect(EMERGENCY)


async def test_stale_button_press(api: BotApiStandin, bot: BotProcess, person: Person) -> None:
    await person.command("start")
    welcome = await person.expect("Shall we start?")
    data = welcome.reply_markup["inline_keyboard"][0][0]["callback_data"]  # type: ignore[index]
    await person.step("let's start", FIRST_SCREEN)
    press = await person.user.click_stale(welcome.message_id, data)
    await person.user.wait_for_answer(press)
    assert press.answer_text == "This question has moved on."
    forged = await person.user.click_stale(welcome.message_id, "v0|garbage")
    await person.user.wait_for_answer(forged)
    assert forged.answer_text == "This question has moved on."


async def test_fifty_users_at_once(api: BotApiStandin, bot: BotProcess) -> None:
    people = [Person(api, 5000 + i) for i in range(50)]
    await asyncio.gather(*(full_session(p) for p in people))
    for p in people:
        for message in p.sent:
            assert message.chat_id == p.id
        assert sum("Well done" in t for t in p.texts) == 1


async def test_webhook_mode(api: BotApiStandin, tmp_path: Path, unused_tcp_port: int) -> None:
    url = f"http://127.0.0.1:{unused_tcp_port}/telegram"
    process = BotProcess(api, tmp_path / "bot.db", {
        "WEBHOOK_URL": url, "WEBHOOK_SECRET": "s3cret-token", "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": str(unused_tcp_port)})
    await process.start()
    try:
        person = Person(api, 1001)
        await person.command("start")  # delivered by the stand-in with the right secret
        await person.expect("Shall we start?")
        update = {"update_id": 424242, "message": {
            "message_id": 9, "date": 0, "chat": {"id": 1001, "type": "private"},
            "from": {"id": 1001, "is_bot": False, "first_name": "Mallory"}, "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}
        before = len(person.sent)
        assert await api.post_update(url, update, secret="wrong") == 403
        assert await api.post_update(url, update, secret=None) == 403
        await asyncio.sleep(0.5)
        assert len(person.sent) == before
        assert "running (webhook)" in process.log
        reader, writer = await asyncio.open_connection("127.0.0.1", unused_tcp_port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        response = (await asyncio.wait_for(reader.read(), 5)).decode()
        writer.close()
        assert response.startswith("HTTP/1.1 200") and '"ready": true' in response
    finally:
        assert await process.stop() == 0


async def test_missing_or_malformed_token(api: BotApiStandin, tmp_path: Path) -> None:
    for token in ("", "not-a-token-at-all-ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
        process = BotProcess(api, tmp_path / "bot.db", {"TELEGRAM_BOT_TOKEN": token})
        await process.start(ready=False)
        assert process.process is not None
        assert await asyncio.wait_for(process.process.wait(), 20) == 2
        lines = [line for line in process.log.splitlines() if line.strip()]
        process.log_file.unlink()
        assert len(lines) == 1 and lines[0].startswith("error: TELEGRAM_BOT_TOKEN")
        assert token[:10] not in lines[0] or not token
    assert TOKEN not in lines[0]


async def test_server_errors_are_retried(api: BotApiStandin, bot: BotProcess, person: Person) -> None:
    await person.command("start")
    await person.expect("Shall we start?")
    api.fail_next(2, status=502, methods=["sendMessage"])
    await person.step("let's start", FIRST_SCREEN)
    await api.wait_quiet(0.3)
    assert sum(FIRST_SCREEN in t for t in person.texts) == 1


async def test_edited_message_leaves_the_state_unless_it_reports_a_red_flag(
        api: BotApiStandin, bot: BotProcess, person: Person) -> None:
    await person.command("start")
    await person.expect("Shall we start?")
    person._act()
    update = api.send_text(person.id, "hello")
    again = await person.expect("Shall we start?")  # a plain text: the question again
    assert again.reply_markup is not None
    person._act()
    api.edit_user_message(person.id, update["message"]["message_id"], "hello again")
    await person.expect("I can only read text")
    person._act()
    api.edit_user_message(person.id, update["message"]["message_id"], "I can't feel my foot at all")
    await person.expect(URGENT)


async def test_two_quick_presses_do_not_race(api: BotApiStandin, bot: BotProcess, person: Person) -> None:
    await person.command("start")
    welcome = await person.expect("Shall we start?")
    data = welcome.reply_markup["inline_keyboard"][0][0]["callback_data"]  # type: ignore[index]
    first = await person.user.click_data(welcome.message_id, data)
    second = await person.user.click_stale(welcome.message_id, data)
    await person.user.wait_for_answer(first)
    await person.user.wait_for_answer(second)
    await api.wait_quiet(0.3)
    assert sum(FIRST_SCREEN in t for t in person.texts) == 1
    assert second.answer_text == "This question has moved on."


async def test_reminder_next_minute_skip_snooze_chart_and_delete(
        api: BotApiStandin, bot: BotProcess, person: Person) -> None:
    from datetime import UTC, datetime, timedelta

    other = Person(api, 1002)
    due = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%H:%M")
    for someone in (person, other):
        await someone.command("timezone")
        await someone.expect("Which time zone")
        await someone.send("UTC")
        await someone.expect("When should I remind you")
        await someone.command(f"remind {due}")
        await someone.expect(f"at {due} (UTC)")
    nudge = await person.expect("gentle back routine", timeout=75)  # wall clock, not scaled
    await other.expect("gentle back routine", timeout=10)
    await person.step("Snooze", "again in 30 minutes")
    await api.wait_until(lambda: api.message(person.id, nudge.message_id).reply_markup is None, 5)
    assert api.message(person.id, nudge.message_id).text.endswith("→ Snooze 30 min")
    await other.step("Skip today", "see you tomorrow")

    await full_session(person)
    await person.command("progress")
    chart = await person.expect("Completed sessions: 1.")
    assert chart.data.get("photo"), "the chart arrives as a photo"
    await person.command("delete")
    await person.expect("Delete it all?")
    await person.step("Yes, delete everything", "erased")
    await person.command("progress")
    await person.expect("No sessions yet")
