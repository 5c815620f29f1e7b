"""/export: the person's own data as a JSON document, through the runtime and in the terminal."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from telegram.error import BadRequest
from telegram.ext import ExtBot

from back_care_guide.engine.events import SendDocument
from back_care_guide.flow.loader import FlowBundle
from back_care_guide.telegram.transport import TelegramTransport
from tests.harness import ChatClient, FakeClock
from tests.standin import BotApiStandin
from tests.test_chat import start_chat
from tests.test_screening import finish_session, press


async def export_of(client: ChatClient) -> tuple[str, str, dict[str, Any]]:
    """/export: the document's file name, caption and content."""
    await client.command("export")
    uid, document = client.transport.documents[-1]
    assert uid == client.user_id
    return document.filename, document.caption, json.loads(document.data)


async def test_export_holds_sessions_reminders_and_safety_with_dates_and_nobody_else(
        chat: ChatClient, bundle: FlowBundle, clock: FakeClock) -> None:
    await chat.command("timezone")
    await chat.send("Berlin")  # dates come in the person's zone (UTC+1 in March)
    await finish_session(chat, bundle, clock)  # pain 2 before the stretches
    await press(chat, "r1")  # and 1 after
    await chat.command("remind", "18:30")
    await chat.send("I have a slipped disc")  # a clinician should check first: a hold
    other = ChatClient(chat.runtime, chat.transport, user_id=43)
    await other.command("timezone")
    await other.send("Tokyo")
    await other.command("remind", "07:15")
    await other.send("my leg is numb all the way down to my foot")

    filename, caption, export = await export_of(chat)

    assert filename == "back-care-guide-export-2025-03-10.json"
    assert caption == bundle.texts("en").get("export.caption")
    assert (export["format"], export["version"]) == ("back-care-guide-export", 1)
    assert export["exported_at"].startswith("2025-03-10T10:00") and export["exported_at"].endswith("+01:00")
    profile = export["profile"]
    assert (profile["user_id"], profile["language"], profile["timezone"]) == (42, "en", "Europe/Berlin")
    hold = profile["safety_hold"]
    assert (hold["tier"], hold["sign"], hold["day"], hold["in_force"]) == (
        "clinician", "disc_problem", "2025-03-10", True)
    assert hold["since"].startswith("2025-03-10T10:00")
    (session,) = export["sessions"]
    assert (session["outcome"], session["pain_before"], session["pain_after"]) == ("completed", 2, 1)
    assert session["started_at"] == "2025-03-10T10:00:00+01:00"
    assert session["started_at"] <= session["ended_at"] <= export["exported_at"]
    (reminder,) = export["reminders"]
    assert {k: reminder[k] for k in ("time", "zone", "days", "next_fire", "active")} == {
        "time": "18:30", "zone": "Europe/Berlin", "days": "daily",
        "next_fire": "2025-03-10T18:30:00+01:00", "active": True}
    (event,) = export["safety_events"]
    assert (event["kind"], event["tier"], event["sign"], event["via"]) == (
        "reported", "clinician", "disc_problem", "text")
    assert event["at"] == hold["since"]
    text = json.dumps(export)
    assert "Tokyo" not in text and "07:15" not in text and "leg_numbness" not in text
    assert [uid for uid, _ in chat.transport.documents] == [42]


async def test_export_of_someone_new_is_empty_and_privacy_mentions_it(
        chat: ChatClient) -> None:
    await chat.command("privacy")
    assert "/export" in chat.texts[-1]
    _, _, export = await export_of(chat)
    assert export["profile"]["safety_hold"] is None
    assert export["sessions"] == export["reminders"] == export["safety_events"] == []


def exported(folder: Path) -> tuple[Path, int, dict[str, Any]]:
    """The one export file in ``folder``: its path, its permission bits and its content."""
    (path,) = folder.glob("back-care-guide-export-*.json")
    return path, path.stat().st_mode & 0o777, json.loads(path.read_bytes())


async def test_terminal_export_writes_the_file_and_delete_removes_it(tmp_path: Path) -> None:
    term = await start_chat(tmp_path)
    await term.expect("[1] I understand, let's start")
    await term.type("/timezone")
    await term.type("UTC")
    await term.expect("Time zone set: UTC.")
    await term.type("/export")
    await term.expect("keep it private.\n  (saved to ")
    await term.expect(".json)")
    path, mode, export = exported(tmp_path)
    assert re.fullmatch(r"back-care-guide-export-\d{4}-\d\d-\d\d\.json", path.name)
    assert mode & 0o077 == 0  # health data: its owner's only
    assert export["profile"]["timezone"] == "UTC" and export["sessions"] == []
    await term.type("/delete")
    await term.expect("[1] Yes, delete everything")
    await term.type("1")
    await term.expect("is erased")
    assert not path.exists()
    assert term.process.stdin is not None
    term.process.stdin.close()
    assert await asyncio.wait_for(term.process.wait(), 10) == 0


async def test_telegram_sends_the_document_as_an_upload() -> None:
    """TelegramTransport against the Bot API stand-in: sendDocument with the file's name."""
    async with BotApiStandin() as api, ExtBot(api.token, base_url=api.base_url) as bot:
        person = api.user(7, first_name="Ann")
        data = b'{"format": "back-care-guide-export"}'
        await TelegramTransport(bot).send_document(7, SendDocument("export.json", data, "Your data"))
        (message,) = person.messages
        document = message.data["document"]
        assert (document["file_name"], document["mime_type"], message.text) == (
            "export.json", "application/json", "Your data")
        assert api.file_bytes(document["file_id"]) == data
        with pytest.raises(BadRequest, match=r"(?i)file must be non-empty"):
            await bot.send_document(7, b"", filename="empty.json")
        assert [e.kind for e in api.events(7)] == ["document"]
        assert api.internal_errors == []
