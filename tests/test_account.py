"""The account features (reminders, time zones, progress, privacy, /delete, /language),
driven through the runtime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from back_care_guide.engine.events import Choose, Start
from back_care_guide.flow.loader import FlowBundle
from back_care_guide.safety.triage import Triage
from tests.harness import ChatClient, ReminderCalls, make_runtime, stored_state

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC).timestamp()  # a Tuesday


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def timed(bundle: FlowBundle, triage: Triage, tmp_path: Path
                ) -> AsyncIterator[tuple[ChatClient, Clock]]:
    clock = Clock()
    runtime, transport = make_runtime(bundle, triage, tmp_path / "bot.db", clock=clock)
    await runtime.start()
    yield ChatClient(runtime, transport), clock
    await runtime.close()


async def remind_in_utc(client: ChatClient, at: str) -> None:
    await client.command("timezone")
    await client.send("UTC")
    await client.command("remind", at)


async def reminders_of(client: ChatClient) -> list[str]:
    assert client.runtime.services is not None
    return [f"{r.rule.hhmm} {'wk' if r.rule.weekdays_only else 'daily'} {r.rule.zone}"
            for r in await ReminderCalls(client.runtime.store).list(client.user_id)]


async def test_remind_picker_asks_the_zone_once(timed: tuple[ChatClient, Clock]) -> None:
    client, _ = timed
    await client.command("remind")
    assert "time zone" in client.texts[-1]
    await client.send("Berlin")
    assert client.texts[-2] == "Time zone set: Europe/Berlin."
    assert "When should I remind you" in client.texts[-1]
    await client.click("Morning")
    await client.click("Weekdays only")
    assert client.texts[-1].startswith("Reminder set: Weekdays only at 08:00 (Europe/Berlin)")
    await client.command("remind", "19:30")  # no zone question the second time
    assert client.texts[-1].startswith("Reminder set: Every day at 19:30")
    assert await reminders_of(client) == ["08:00 wk Europe/Berlin", "19:30 daily Europe/Berlin"]


async def test_custom_time_and_bad_input(timed: tuple[ChatClient, Clock]) -> None:
    client, _ = timed
    await client.command("timezone")
    await client.click("New York")
    await client.click("Another time")
    await client.send("tomorrow-ish")
    assert "couldn't read that time" in client.texts[-1]
    await client.send("6:45 pm")
    await client.click("Every day")
    for bad in ("25:99", "tomorrow-ish"):
        await client.command("remind", bad)
        assert client.texts[-1] == ("I couldn't read that time. Try, for example, "
                                    "/remind 08:00 or /remind 7pm.")
    await client.command("timezone")
    await client.send("Atlantis/Nowhere")
    assert "couldn't find that time zone" in client.texts[-1]
    assert await reminders_of(client) == ["18:45 daily America/New_York"]


async def test_list_change_delete_and_off(timed: tuple[ChatClient, Clock]) -> None:
    client, _ = timed
    await client.command("timezone")
    await client.send("UTC+2")
    await client.command("remind", "08:00")
    await client.command("remind", "20:00")
    await client.command("reminders")
    assert "Every day at 08:00 (UTC+02:00)" in client.texts[-1]
    await client.click("Change 08:00")
    await client.click("Lunchtime")
    await client.click("Every day")
    assert await reminders_of(client) == ["12:30 daily UTC+02:00", "20:00 daily UTC+02:00"]
    await client.command("reminders")
    await client.click("Delete 20:00")
    assert client.texts[-1] == "Reminder deleted."
    await client.command("remind", "off")
    assert await reminders_of(client) == []
    await client.command("reminders")
    assert "no reminders" in client.texts[-1]


async def test_a_reminder_arrives_and_can_be_snoozed_or_started(timed: tuple[ChatClient, Clock]) -> None:
    client, clock = timed
    await remind_in_utc(client, "09:01")
    clock.now += 61
    nudge = await client.wait_for("gentle back routine", timeout=5)
    assert [b.label for b in nudge.buttons] == ["Start session", "Snooze 30 min", "Skip today"]
    await client.click("Snooze", nudge)
    assert "30 minutes" in client.texts[-1]
    clock.now += 30 * 60 + 1
    again = await client.wait_for("gentle back routine", timeout=5)
    await client.click("Start session", again)
    assert "Shall we start?" in client.texts[-1]  # the normal flow, screening included
    await client.click("Skip today", nudge)
    assert "see you tomorrow" in client.texts[-1]


async def test_no_reminders_while_locked_after_an_emergency(timed: tuple[ChatClient, Clock]) -> None:
    client, clock = timed
    await remind_in_utc(client, "09:01")
    await client.send("I peed myself without noticing")
    await client.command("remind", "10:00")
    assert "Reminders are paused for now" in client.texts[-1]
    clock.now += 120
    await asyncio.sleep(1.5)
    assert not client.saw("gentle back routine")


@pytest.mark.parametrize(("report", "cleared"), [
    ("I have a slipped disc", True),  # clinician first: back once a clinician has cleared them
    ("ouch, a sharp stabbing pain in one spot", False),  # stop today: back the next day
])
async def test_reminders_pause_while_an_outcome_holds_and_say_why_they_resume(
        timed: tuple[ChatClient, Clock], report: str, cleared: bool) -> None:
    client, clock = timed
    await remind_in_utc(client, "09:01")  # NOW is 09:00 UTC
    await client.send(report)
    clock.now += 120
    await asyncio.sleep(1.5)
    assert not client.saw("gentle back routine")  # skipped while the outcome holds
    clock.now += 86400  # the next day at 09:02: the reminder of 09:01 is due again
    if cleared:
        await client.start()
        await client.click("cleared")
        await client.click("No")  # the sign is asked again
    nudge = await client.wait_for("gentle back routine", timeout=5)
    assert nudge.text.startswith("Reminders are back on")
    await client.command("help")  # (so that waiting looks at newer messages only)
    clock.now += 86400
    again = await client.wait_for("gentle back routine", timeout=5)
    assert not again.text.startswith("Reminders are back on")  # said once


async def test_blocked_user_gets_no_reminders_until_start(timed: tuple[ChatClient, Clock]) -> None:
    client, clock = timed
    await remind_in_utc(client, "09:01")
    client.transport.blocked.add(client.user_id)
    clock.now += 61
    await asyncio.sleep(1.5)  # the nudge hits "blocked": the user's reminders are paused
    assert client.runtime.services is not None
    assert not (await ReminderCalls(client.runtime.store).list(client.user_id))[0].active
    client.transport.blocked.clear()
    await client.start()
    assert (await ReminderCalls(client.runtime.store).list(client.user_id))[0].active


async def test_progress_chart_and_summary(timed: tuple[ChatClient, Clock]) -> None:
    client, _ = timed
    await client.command("progress")
    assert "No sessions yet" in client.texts[-1]
    store = client.runtime.store
    from back_care_guide.engine.events import LogSession

    for day, (before, after) in enumerate([(6, 4), (5, 3), (5, 2)]):
        start = NOW - (3 - day) * 86400
        async with store.transaction() as tx:
            await tx.sessions.add(client.user_id, LogSession(start, start + 600, "completed", before, after))
    await client.command("progress")
    (uid, photo), = client.transport.photos
    assert uid == client.user_id and photo.png.startswith(b"\x89PNG")
    assert photo.caption == ("Last 30 days. Completed sessions: 3. Average change in pain: -2.3. "
                             "Current streak: 3 days.")


async def test_privacy_and_delete(timed: tuple[ChatClient, Clock]) -> None:
    client, _ = timed
    await client.command("privacy")
    assert "pain ratings" in client.texts[-1] and "/delete" in client.texts[-1]
    await remind_in_utc(client, "10:00")
    await client.send("my leg is numb all the way down to my foot")  # locks the user
    await client.command("delete")
    await client.click("Cancel")
    assert "Nothing was deleted" in client.texts[-1]
    await client.command("delete")
    await client.click("Yes, delete everything")
    assert "Everything I had stored about you is erased" in client.texts[-1]
    assert await reminders_of(client) == []
    assert await stored_state(client.runtime.store, client.user_id) == (None, None)
    await client.start()  # a new user again: no lock, the welcome
    assert "Shall we start?" in client.texts[-1]
    await client.command("progress")
    assert "No sessions yet" in client.texts[-1]


async def test_feature_buttons_never_replace_the_flow_question(timed: tuple[ChatClient, Clock]) -> None:
    client, _ = timed
    await client.start()
    welcome = client.last_prompt()
    await client.command("privacy")
    await client.click("let's start", welcome)
    assert "Leaking urine or stools" in client.texts[-1]
    toasts = await client.runtime.dispatch(Choose(client.user_id, 0, "rm_bogus_1"))
    assert toasts == ["This question has moved on."]


async def test_red_flag_typed_while_a_feature_waits_for_text(timed: tuple[ChatClient, Clock]) -> None:
    client, _ = timed
    await client.command("timezone")
    await client.send("my left leg suddenly gave way")
    assert "Get medical help now" in client.texts[-2]


async def profile_language(client: ChatClient) -> str | None:
    async with client.runtime.store.transaction() as tx:
        profile = await tx.profiles.get(client.user_id)
    return None if profile is None else profile.language


async def test_language_buttons_name_each_language_in_itself_and_the_choice_sticks(
        timed: tuple[ChatClient, Clock], bundle: FlowBundle) -> None:
    client, _ = timed
    await client.start()
    await client.command("language")
    asked = client.messages[-1]
    assert asked.text == bundle.texts("en").get("language.ask")
    assert [(b.choice, b.label) for b in asked.buttons] == [
        ("lang_en", "English"), ("lang_de", "Deutsch"), ("lang_es", "Español")]
    await client.click("Español")
    assert client.texts[-1] == bundle.texts("es").get("language.saved")
    assert client.transport.menus == [(client.user_id, "es")]  # their menu follows
    assert await profile_language(client) == "es"
    await client.runtime.dispatch(Start(client.user_id, "de-DE"))  # Telegram's setting: not a choice
    assert bundle.texts("es").get("welcome.what") in client.texts[-1]
    assert await profile_language(client) == "es"
    await client.command("help")
    assert client.texts[-1] == bundle.texts("es").get("help.text")


async def test_a_forged_language_button_changes_nothing(timed: tuple[ChatClient, Clock]) -> None:
    client, _ = timed
    await client.start()
    for forged in ("lang_xx", "lang_", "lang_en_es", "lang_EN"):
        toasts = await client.runtime.dispatch(Choose(client.user_id, 0, forged))
        assert toasts == ["This question has moved on."], forged
    assert await profile_language(client) == "en"


async def test_progress_speaks_the_language_numbers_and_plurals(
        timed: tuple[ChatClient, Clock], bundle: FlowBundle) -> None:
    """Babel writes the figures: a decimal comma in Spanish and German, "1 día", "1 Tag"."""
    client, _ = timed
    from back_care_guide.engine.events import LogSession

    async with client.runtime.store.transaction() as tx:
        await tx.sessions.add(client.user_id, LogSession(NOW - 3600, NOW - 3000, "completed", 6, 4.5))
    expected = {"en": "Completed sessions: 1. Average change in pain: -1.5. Current streak: 1 day.",
                "es": "Sesiones completadas: 1. Cambio medio del dolor: -1,5. Racha actual: 1 día.",
                "de": "Durchschnittliche Veränderung des Schmerzes: -1,5. Aktuelle Serie: 1 Tag."}
    for language, ending in expected.items():
        await client.runtime.dispatch(Choose(client.user_id, 0, f"lang_{language}"))
        await client.command("progress")
        assert client.transport.photos[-1][1].caption.endswith(ending), language


async def test_emergency_numbers_name_the_country_in_the_person_s_language(
        timed: tuple[ChatClient, Clock], bundle: FlowBundle) -> None:
    client, _ = timed
    await client.runtime.dispatch(Start(client.user_id, "es-MX"))
    await client.command("country")
    assert ("Alemania" in [b.label for b in client.last_prompt().buttons]
            and "Reino Unido" in [b.label for b in client.last_prompt().buttons])
    await client.send("Alemania")
    assert "Guardado: Alemania. Número de emergencias: 112." in client.texts
    await client.send("desde esta mañana no puedo controlar la orina")
    assert any("Número de emergencias en Alemania: 112" in text for text in client.texts)


async def test_what_a_feature_is_in_the_middle_of_survives_a_restart(
        bundle: FlowBundle, triage: Triage, tmp_path: Path) -> None:
    """A time typed before the zone is known is kept with the conversation (the feature's own
    typed state), so it is saved once the zone comes, across a restart in between."""
    clock = Clock()
    runtime, transport = make_runtime(bundle, triage, tmp_path / "bot.db", clock=clock)
    await runtime.start()
    client = ChatClient(runtime, transport)
    await client.command("remind", "7pm")
    assert "time zone" in client.texts[-1]
    await runtime.close()
    runtime, transport = make_runtime(bundle, triage, tmp_path / "bot.db", clock=clock)
    await runtime.start()
    try:
        client = ChatClient(runtime, transport)
        await client.send("Berlin")
        assert client.texts[-1].startswith("Reminder set: Every day at 19:00 (Europe/Berlin)")
        assert await reminders_of(client) == ["19:00 daily Europe/Berlin"]
    finally:
        await runtime.close()


def test_kept_state_of_another_version_starts_afresh() -> None:
    from back_care_guide.account.base import Kept
    from back_care_guide.account.reminders import Pending
    from back_care_guide.store.records import Conversation

    kept = Kept("rm", Pending)
    conv = Conversation(1, "welcome", {"account.rm": {"time": "1900", "gone": 1}})
    assert kept.get(conv) == Pending()
    kept.put(conv, Pending(changing=3))
    assert conv.ctx == {"account.rm": {"time": None, "changing": 3}}
    kept.put(conv, Pending())  # nothing in the middle: nothing kept
    assert conv.ctx == {}
