"""Prometheus metrics: the real bot scraped over HTTP after a session (webhook mode, and the
METRICS_PORT listener in polling mode), and the counts no end-to-end run reaches quickly."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from telegram import Update

from back_care_guide.engine.events import Text
from back_care_guide.flow.loader import FlowBundle
from back_care_guide.observability.metrics import Metrics, api_method, api_outcome
from back_care_guide.observability.server import MetricsServer
from back_care_guide.reminders.dispatcher import SendResult
from back_care_guide.safety.triage import Triage
from back_care_guide.store.records import Due
from back_care_guide.telegram.processor import update_kind
from tests.e2e.conftest import TOKEN, URGENT, BotProcess, Person, full_session
from tests.harness import make_runtime
from tests.standin import BotApiStandin

USER = 7350291  # an id that can't be mistaken for a count
RED_FLAG = "my left leg, it went numb all the way down"
SECRET = "s3cret-token"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(url: str) -> str:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session, \
            session.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        return await response.text()


def samples(exposition: str) -> Samples:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(exposition) for s in family.samples}


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def assert_anonymous(exposition: str, found: Samples, *words: str) -> None:
    """No id, no text: label values are short names, and nothing said appears anywhere."""
    for word in (str(USER), TOKEN, TOKEN.split(":")[1], SECRET, *words):
        assert word.casefold() not in exposition.casefold(), word
    for _, labels in found:
        for key, label in labels:
            if key != "le":
                assert re.fullmatch(r"[A-Za-z_ ]{1,40}|[0-9]{3}|5xx", label), (key, label)


@pytest.fixture
async def api() -> AsyncIterator[BotApiStandin]:
    async with BotApiStandin(token=TOKEN) as standin:
        yield standin
        assert standin.internal_errors == []


async def test_webhook_metrics_after_a_full_session(api: BotApiStandin, tmp_path: Path,
                                                    unused_tcp_port: int) -> None:
    port = unused_tcp_port
    process = BotProcess(api, tmp_path / "bot.db", {
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram", "WEBHOOK_SECRET": SECRET,
        "WEBHOOK_LISTEN": "127.0.0.1", "WEBHOOK_PORT": str(port)})
    await process.start()
    try:
        person = Person(api, USER)
        await full_session(person)
        await person.send(RED_FLAG)
        await person.expect(URGENT)
        await api.wait_quiet(0.3)
        exposition = await scrape(f"http://127.0.0.1:{port}/metrics")
        said = {line for text in person.texts for line in text.splitlines() if len(line) > 20}
    finally:
        assert await process.stop() == 0, process.log
    found = samples(exposition)
    assert value(found, "backcare_updates_total", kind="command") >= 1
    assert value(found, "backcare_updates_total", kind="callback") >= 15
    assert value(found, "backcare_updates_total", kind="message") >= 1
    assert value(found, "backcare_update_seconds_count", kind="callback") >= 15
    assert value(found, "backcare_bot_api_calls_total", method="sendMessage", outcome="ok") >= 5
    assert value(found, "backcare_bot_api_calls_total", method="answerCallbackQuery",
                 outcome="ok") >= 15
    assert value(found, "backcare_bot_api_calls_total", method="setWebhook", outcome="ok") == 1
    assert value(found, "backcare_send_wait_seconds_count", lane="reply") >= 10
    assert value(found, "backcare_send_wait_seconds_count", lane="safety") >= 1
    assert value(found, "backcare_timer_lateness_seconds_count") >= 4  # four holds ended
    assert value(found, "backcare_safety_outcomes_total", tier="urgent", kind="reported") == 1
    assert ("backcare_active_sessions", frozenset()) in found
    assert ("backcare_send_queue_depth", frozenset({("lane", "bulk")})) in found
    assert_anonymous(exposition, found, RED_FLAG, "numb", f"User{USER}", *sorted(said))


async def test_metrics_port_in_polling_mode(api: BotApiStandin, tmp_path: Path,
                                            unused_tcp_port: int) -> None:
    process = BotProcess(api, tmp_path / "bot.db", {
        "METRICS_PORT": str(unused_tcp_port), "METRICS_LISTEN": "127.0.0.1"})
    await process.start()
    try:
        person = Person(api, USER)
        await person.command("start")
        await person.expect("Shall we start?")
        await person.send("hello there")
        await api.wait_quiet(0.3)
        exposition = await scrape(f"http://127.0.0.1:{unused_tcp_port}/metrics")
    finally:
        assert await process.stop() == 0, process.log
    assert f"serving /metrics on 127.0.0.1:{unused_tcp_port}" in process.log
    found = samples(exposition)
    assert value(found, "backcare_updates_total", kind="command") == 1
    assert value(found, "backcare_updates_total", kind="message") == 1
    assert value(found, "backcare_update_seconds_count", kind="command") == 1
    assert value(found, "backcare_bot_api_calls_total", method="getUpdates", outcome="ok") >= 1
    assert value(found, "backcare_bot_api_calls_total", method="sendMessage", outcome="ok") >= 1
    assert_anonymous(exposition, found, "hello there")


async def test_a_taken_metrics_port_is_logged_and_the_bot_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = MetricsServer(Metrics(), "127.0.0.1", taken.getsockname()[1])
        with caplog.at_level(logging.ERROR):
            await server.start()
        await server.stop()
    assert "metrics: cannot listen on 127.0.0.1" in caplog.text


async def test_reminders_safety_and_timers_are_counted(bundle: FlowBundle, triage: Triage,
                                                       tmp_path: Path) -> None:
    runtime, _ = make_runtime(bundle, triage, tmp_path / "bot.db")
    await runtime.start()
    try:
        assert await runtime._send_reminder(Due(1, USER, 0.0, 0.0, False)) is SendResult.SENT
        await runtime.dispatch(Text(USER, RED_FLAG))  # urgent: reminders hold
        assert await runtime._send_reminder(Due(1, USER, 0.0, 0.0, False)) is SendResult.SKIPPED
    finally:
        await runtime.close()
    found = samples(runtime.metrics.exposition().decode())
    assert value(found, "backcare_reminders_total", result="sent") == 1
    assert value(found, "backcare_reminders_total", result="skipped") == 1
    assert value(found, "backcare_safety_outcomes_total", tier="urgent", kind="reported") == 1


@pytest.mark.parametrize(("status", "outcome"), [
    (200, "ok"), (429, "429"), (403, "403"), (502, "5xx"), (400, "other"), (None, "network")])
def test_api_outcome(status: int | None, outcome: str) -> None:
    assert api_outcome(status) == outcome


def test_api_method_is_the_last_segment_and_never_the_token() -> None:
    assert api_method(f"https://api.telegram.org/bot{TOKEN}/sendMessage") == "sendMessage"
    assert api_method(f"https://api.telegram.org/file/bot{TOKEN}/photos/file_1.jpg") == "other"
    assert api_method(f"https://api.telegram.org/bot{TOKEN}") == "other"


@pytest.mark.parametrize(("data", "kind"), [
    ({"message": {"text": "/start"}}, "command"),
    ({"message": {"text": "hi"}}, "message"),
    ({"message": {"voice": {"file_id": "a", "file_unique_id": "b", "duration": 1}}}, "media"),
    ({"edited_message": {"text": "hi", "edit_date": 1}}, "edited"),
    ({"message": {"text": "hi", "chat": {"id": -5, "type": "group", "title": "g"}}}, "group"),
    ({"channel_post": {"text": "hi", "chat": {"id": -7, "type": "channel", "title": "c"}}}, "other"),
    ({"callback_query": {"id": "1", "chat_instance": "c", "data": "x",
                         "from": {"id": 1, "is_bot": False, "first_name": "A"}}}, "callback"),
])
def test_update_kind(data: dict[str, dict[str, object]], kind: str) -> None:
    for field, body in data.items():
        if field != "callback_query":
            body.setdefault("message_id", 1)
            body.setdefault("date", 0)
            body.setdefault("chat", {"id": 1, "type": "private"})
    update = Update.de_json({"update_id": 1, **data}, None)
    assert update_kind(update) == kind
    assert update_kind(object()) == "other"
