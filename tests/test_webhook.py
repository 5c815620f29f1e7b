"""The webhook server against what the internet sends: bad bodies, slow clients, retries, floods."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import Update

from back_care_guide.telegram import webhook
from back_care_guide.telegram.webhook import SECRET_HEADER, LogGate, RecentUpdates, WebhookServer

SECRET = "s3cret-token"
PATH = "/telegram"
TIMEOUT = 0.5  # header and body timeouts for these tests (10 s in production)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Running:
    server: WebhookServer
    queue: asyncio.Queue[Any]
    ready: asyncio.Event
    session: aiohttp.ClientSession
    port: int
    clock: Clock

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    async def post(self, body: bytes | str | object, secret: str | None = SECRET,
                   raw: bool = False) -> tuple[int, dict[str, Any]]:
        data = body if raw else json.dumps(body)
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        async with self.session.post(self.url, data=data, headers=headers) as response:
            return response.status, await response.json()

    def updates(self) -> list[Update]:
        found = []
        while not self.queue.empty():
            found.append(self.queue.get_nowait())
        return found


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    ready = asyncio.Event()
    ready.set()
    clock = Clock()
    server = WebhookServer(None, queue, SECRET, PATH, ready, header_timeout=TIMEOUT,
                           body_timeout=TIMEOUT, recent=100)
    server.gate.clock = clock
    runner = server.runner()
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = int(runner.addresses[0][1])
    async with aiohttp.ClientSession() as session:
        yield Running(server, queue, ready, session, port, clock)
    await runner.cleanup()


def message_update(update_id: int, text: str = "hello") -> dict[str, Any]:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": 0, "chat": {"id": 1001, "type": "private"},
        "from": {"id": 1001, "is_bot": False, "first_name": "Ann"}, "text": text}}


def webhook_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("back_care_guide.telegram.webhook")]


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert all(r.exc_info is None for r in caplog.records), caplog.text
    assert "Traceback" not in caplog.text


async def test_an_update_is_queued(running: Running) -> None:
    assert await running.post(message_update(1)) == (200, {"ok": True})
    [update] = running.updates()
    assert isinstance(update, Update) and update.update_id == 1
    assert update.message is not None and update.message.text == "hello"


@pytest.mark.parametrize("body", [[1, 2], "a string", 42, None, True, {"no_update_id": 1},
                                  {"update_id": "7"}, {"update_id": True},
                                  {"update_id": 8, "message": "not an object"}])
async def test_json_that_is_not_an_update_gets_400_without_a_traceback(
        running: Running, caplog: pytest.LogCaptureFixture, body: object) -> None:
    caplog.set_level(logging.DEBUG)
    status, answer = await running.post(body)
    assert status == 400 and answer["ok"] is False
    assert running.updates() == []
    assert_no_traceback(caplog)
    assert [r.levelno for r in webhook_records(caplog)] == [logging.WARNING]


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b"\xff\xfe\x00garbage", b'{"update_id": 1,}'])
async def test_invalid_json_gets_400(running: Running, caplog: pytest.LogCaptureFixture,
                                     body: bytes) -> None:
    caplog.set_level(logging.DEBUG)
    status, answer = await running.post(body, raw=True)
    assert (status, answer) == (400, {"ok": False, "error": "bad json"})
    assert running.updates() == []
    assert_no_traceback(caplog)


async def test_wrong_secret_and_not_ready(running: Running) -> None:
    assert (await running.post(message_update(1), secret="wrong"))[0] == 403
    assert (await running.post(message_update(1), secret=None))[0] == 403
    running.ready.clear()
    assert (await running.post(message_update(1)))[0] == 503
    running.ready.set()
    assert (await running.post(message_update(1)))[0] == 200  # a 503 is not "seen"
    assert [u.update_id for u in running.updates()] == [1]


async def test_a_redelivered_update_is_acknowledged_and_processed_once(running: Running) -> None:
    assert await running.post(message_update(5)) == (200, {"ok": True})
    assert await running.post(message_update(5)) == (200, {"ok": True})
    same = await asyncio.gather(*(running.post(message_update(6)) for _ in range(5)))
    assert same == [(200, {"ok": True})] * 5
    assert [u.update_id for u in running.updates()] == [5, 6]
    assert running.server.duplicates == 5


def test_recent_updates_are_bounded() -> None:
    recent = RecentUpdates(3)
    assert [recent.add(i) for i in (1, 2, 3, 1)] == [True, True, True, False]
    assert recent.add(4) and len(recent) == 3
    assert 1 not in recent and recent.add(1)  # forgotten, the oldest first


async def read_until_closed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                            dribble: bytes, limit: float) -> tuple[float, bytes]:
    """Send ``dribble`` one byte every 50 ms until the server closes; how long that took."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    answer = b""
    for byte in dribble:
        if loop.time() - start > limit:
            break
        try:
            writer.write(bytes([byte]))
            await writer.drain()
            answer += await asyncio.wait_for(reader.read(1024), 0.05)
        except TimeoutError:
            continue
        except ConnectionError:
            break
        if reader.at_eof():
            break
    return loop.time() - start, answer


async def test_a_client_sending_headers_byte_by_byte_is_dropped(running: Running) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    request = (f"POST {PATH} HTTP/1.1\r\nHost: x\r\n{SECRET_HEADER}: {SECRET}\r\n" + "X-Pad: a\r\n" * 100)
    took, answer = await read_until_closed(reader, writer, request.encode(), limit=5)
    writer.close()
    assert answer == b"" and reader.at_eof(), answer
    assert TIMEOUT * 0.9 <= took < TIMEOUT + 1.0


async def test_an_idle_connection_is_dropped(running: Running) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    assert await asyncio.wait_for(reader.read(), TIMEOUT + 1.0) == b""
    writer.close()


async def test_a_slow_body_gets_408_and_is_dropped(running: Running,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    body = json.dumps(message_update(9)).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    writer.write(f"POST {PATH} HTTP/1.1\r\nHost: x\r\n{SECRET_HEADER}: {SECRET}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode())
    took, answer = await read_until_closed(reader, writer, body, limit=5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert TIMEOUT * 0.9 <= took < TIMEOUT + 1.0
    assert running.updates() == []
    assert any("no request body" in r.getMessage() for r in webhook_records(caplog))


async def test_problems_are_logged_at_a_bounded_rate(running: Running,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for _ in range(30):
        assert (await running.post(b"nonsense", raw=True))[0] == 400
        assert (await running.post([1]))[0] == 400
        assert (await running.post(message_update(1), secret="wrong"))[0] == 403
    lines = [r.getMessage() for r in webhook_records(caplog)]
    assert len(lines) == 3, lines  # one per kind
    running.clock.now += webhook.LOG_INTERVAL - 1
    await running.post(b"nonsense", raw=True)
    assert len(webhook_records(caplog)) == 3
    running.clock.now += 1
    await running.post(b"nonsense", raw=True)
    last = webhook_records(caplog)[-1].getMessage()
    assert "not JSON" in last and "(and 30 more like this in the last 60 s, not logged)" in last
    running.server.gate.flush()
    flushed = [r.getMessage() for r in webhook_records(caplog)][4:]
    assert len(flushed) == 2 and all("29 more" in line for line in flushed), flushed


async def test_malformed_http_is_logged_once_without_a_traceback(
        running: Running, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for _ in range(10):
        reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
        writer.write(b"POST /telegram HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0], answer
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1, caplog.text
    assert errors[0].name == "back_care_guide.telegram.webhook.http"
    assert_no_traceback(caplog)


def test_the_gate_counts_per_kind() -> None:
    clock = Clock()
    gate = LogGate(logging.getLogger("tests.gate"), interval=10, clock=clock)
    assert [gate.admit("a"), gate.admit("a"), gate.admit("b"), gate.admit("a")] == [0, None, 0, None]
    clock.now += 10
    assert [gate.admit("a"), gate.admit("b")] == [2, 0]
    assert gate.suffix(2) == " (and 2 more like this in the last 10 s, not logged)"
