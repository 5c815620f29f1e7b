"""/export in the real bot process: the person's data arrives as a JSON document."""

from __future__ import annotations

import json

from tests.e2e.conftest import BotProcess, Person, full_session
from tests.standin import BotApiStandin


async def test_export_sends_a_json_document_with_the_session(api: BotApiStandin, bot: BotProcess) -> None:
    person = Person(api, 1001)
    await full_session(person)  # pain 5 before the stretches, 3 after
    await person.command("export")
    message = await person.expect("Your data as a file")
    document = message.data["document"]
    assert document["file_name"].startswith("back-care-guide-export-")
    assert document["file_name"].endswith(".json")
    assert document["mime_type"] == "application/json"
    export = json.loads(api.file_bytes(document["file_id"]))
    assert export["profile"]["user_id"] == person.id
    (session,) = export["sessions"]
    assert (session["outcome"], session["pain_before"], session["pain_after"]) == ("completed", 5, 3)
    assert session["started_at"] <= session["ended_at"] <= export["exported_at"]
    commands = [c["command"] for listed in api.core.commands.values() for c in listed]
    assert "export" in commands
    assert '"pain_before"' not in bot.log  # health data never reaches the log
