"""LOG_FORMAT=json: one JSON object per line, secrets masked, nothing a person typed."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from back_care_guide.components import setup_logging
from back_care_guide.redact import MASK
from tests.e2e.conftest import TOKEN, BotProcess, Person
from tests.logging_tools import isolated_logging
from tests.standin import BotApiStandin

KEYS = {"time", "level", "logger", "event"}
PHRASE = "my grandmother's lasagne recipe, and my back aches a bit"


def parse(text: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    for line in lines:
        assert isinstance(line, dict) and line.keys() >= KEYS, line
        stamp = datetime.fromisoformat(line["time"])
        assert stamp.utcoffset() == timedelta(0)
        assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=5)
    return lines


def test_json_lines_with_the_token_masked(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with isolated_logging(monkeypatch):
        setup_logging("INFO", [TOKEN], "json")
        log = logging.getLogger("back_care_guide.test")
        log.info("calling https://x/bot%s/getMe", TOKEN)
        log.warning(f"two\nlines with {TOKEN}", extra={"update_kind": "callback",
                                                       "latency_ms": 12.5, "chat": 1001})
        try:
            raise RuntimeError(f"https://x/bot{TOKEN}/sendMessage")
        except RuntimeError:
            log.exception("failed")
        log.debug("not at INFO")
    err = capsys.readouterr().err
    assert TOKEN not in err and TOKEN.split(":")[1] not in err
    first, second, third = parse(err)
    assert first["level"] == "INFO" and first["logger"] == "back_care_guide.test"
    assert first["event"] == f"calling https://x/bot{MASK}/getMe"
    assert second["event"] == f"two\nlines with {MASK}"
    assert (second["update_kind"], second["latency_ms"]) == ("callback", 12.5)
    assert "chat" not in second  # only the known extra fields
    assert third["level"] == "ERROR" and "RuntimeError" in third["exception"]
    assert MASK in third["exception"]


@pytest.fixture
async def api() -> AsyncIterator[BotApiStandin]:
    async with BotApiStandin(token=TOKEN) as standin:
        yield standin
        assert standin.internal_errors == []


async def test_the_bot_logs_json_without_what_people_say(api: BotApiStandin, tmp_path: Path) -> None:
    process = BotProcess(api, tmp_path / "bot.db", {"LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"})
    await process.start()
    try:
        person = Person(api, 7350291)
        await person.command("start")
        await person.expect("Shall we start?")
        await person.send(f"{PHRASE} {TOKEN}")
        await api.wait_quiet(0.3)
    finally:
        assert await process.stop() == 0, process.log
    log = process.log
    lines = parse(log)
    assert any("running (polling)" in line["event"] for line in lines)
    handled = [line for line in lines if "update_kind" in line]
    assert {line["update_kind"] for line in handled} >= {"command", "message"}
    assert all(isinstance(line["latency_ms"], float) for line in handled)
    for secret in (TOKEN, TOKEN.split(":")[1], "lasagne", "grandmother", "User7350291"):
        assert secret not in log, secret
