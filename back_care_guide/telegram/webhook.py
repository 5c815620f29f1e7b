"""Webhook mode: a small aiohttp server in front of the PTB application.

Telegram sends every update with the secret given to ``setWebhook`` in the
``X-Telegram-Bot-Api-Secret-Token`` header; a request without the right secret gets 403
and is not processed. ``GET /healthz`` says whether the bot is ready (for load balancers
and container health checks); ``GET /metrics`` gives the Prometheus metrics (counts and
timings only; the proxy in front need only forward the webhook path).

The server is on the internet, so it expects anything:

* a body that is not JSON, or JSON that is not an update object, gets 400 (no traceback);
* a client that takes longer than :data:`HEADER_TIMEOUT` to send a request's headers (from
  connecting, or from the previous response) is disconnected, and one that takes longer than
  :data:`BODY_TIMEOUT` to send the body gets 408 and is disconnected;
* Telegram retries a delivery it thinks failed: an ``update_id`` seen among the last
  :data:`RECENT_UPDATES` is acknowledged with 200 and not processed again. With a store that
  several replicas share, the ids are noted there too (``first_delivery``), so a retry that
  reaches another replica is acknowledged and dropped as well;
* problems are logged at most once per kind per :data:`LOG_INTERVAL`, with a count of the
  ones not logged, so a misbehaving client can't flood the log.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlparse

from aiohttp import web
from telegram import Bot, Update

from back_care_guide.observability.metrics import Metrics
from back_care_guide.observability.server import add_metrics_route
from back_care_guide.settings import Settings
from back_care_guide.telegram.app import ALLOWED_UPDATES, BotApp

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1 << 20
HEADER_TIMEOUT = 10.0  # seconds to send a request line and headers
BODY_TIMEOUT = 10.0  # seconds to send the body once the headers are in
LOG_INTERVAL = 60.0  # at most one log line per kind of problem this often
RECENT_UPDATES = 10_000  # update_ids remembered to answer Telegram's retries once


class LogGate:
    """At most one log line per kind per ``interval``; the next line that gets through says
    how many were left out. Kinds are a small fixed set of names, so this stays small."""

    def __init__(self, logger: logging.Logger, interval: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.interval = LOG_INTERVAL if interval is None else interval
        self.clock = clock
        self._last: dict[str, float] = {}
        self._left_out: dict[str, int] = {}

    def admit(self, kind: str) -> int | None:
        """``None`` if this line is to be left out, else how many were left out before it."""
        now = self.clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval:
            self._left_out[kind] = self._left_out.get(kind, 0) + 1
            return None
        self._last[kind] = now
        return self._left_out.pop(kind, 0)

    def suffix(self, left_out: int) -> str:
        if not left_out:
            return ""
        return f" (and {left_out} more like this in the last {self.interval:.0f} s, not logged)"

    def log(self, level: int, kind: str, message: str, *args: object,
            exc_info: BaseException | None = None) -> None:
        left_out = self.admit(kind)
        if left_out is not None:
            self.logger.log(level, message + self.suffix(left_out), *args, exc_info=exc_info)

    def flush(self) -> None:
        """Log the counts still held back (at shutdown)."""
        for kind, left_out in sorted(self._left_out.items()):
            self.logger.warning("webhook: %d more %r problems in the last %.0f s, not logged",
                                left_out, kind, self.interval)
        self._left_out.clear()


class _ProtocolFilter(logging.Filter):
    """For aiohttp's connection-level errors (malformed HTTP, say): one line, no traceback,
    through the :class:`LogGate`."""

    def __init__(self, gate: LogGate) -> None:
        super().__init__()
        self.gate = gate

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        left_out = self.gate.admit(f"http: {record.msg}")
        if left_out is None:
            return False
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            message += f": {type(record.exc_info[1]).__name__}"
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = message + self.gate.suffix(left_out), None
        return True


class RecentUpdates:
    """The last ``size`` update_ids, to acknowledge Telegram's re-deliveries without acting twice."""

    def __init__(self, size: int = RECENT_UPDATES) -> None:
        self.size = size
        self._ids: OrderedDict[int, None] = OrderedDict()

    def add(self, update_id: int) -> bool:
        """Remember ``update_id``; ``False`` if it was already there."""
        if update_id in self._ids:
            return False
        self._ids[update_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True

    def __contains__(self, update_id: int) -> bool:
        return update_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)


class WebhookServer:
    """The aiohttp application that takes Telegram's webhook requests into ``queue``."""

    def __init__(self, bot: Bot | None, queue: asyncio.Queue[Any], secret: str, path: str,
                 ready: asyncio.Event, *, header_timeout: float | None = None,
                 body_timeout: float | None = None, log_interval: float | None = None,
                 recent: int = RECENT_UPDATES, metrics: Metrics | None = None,
                 first_delivery: Callable[[int], Awaitable[bool]] | None = None) -> None:
        self.bot = bot
        self.queue = queue
        self.secret = secret.encode()
        self.ready = ready
        self.header_timeout = HEADER_TIMEOUT if header_timeout is None else header_timeout
        self.body_timeout = BODY_TIMEOUT if body_timeout is None else body_timeout
        self.gate = LogGate(log, log_interval)
        self.recent = RecentUpdates(recent)
        self.first_delivery = first_delivery
        self.duplicates = 0
        # aiohttp's own error lines go through the gate too; a logger of this server's own
        # (not registered, so not shared with another server) that hands them to ours.
        self.protocol_log = logging.Logger(f"{__name__}.http")
        self.protocol_log.parent = log
        self.protocol_log.addFilter(_ProtocolFilter(self.gate))
        self.app = web.Application(client_max_size=MAX_BODY, middlewares=[self._unexpected])
        self.app.router.add_post(path, self.receive)
        self.app.router.add_get("/healthz", self.healthz)
        if metrics is not None:
            add_metrics_route(self.app, metrics)

    def runner(self) -> web.AppRunner:
        # aiohttp closes a connection that has not delivered a whole request (headers) within
        # keepalive_timeout of connecting or of the previous response: the header timeout.
        # After a response to a request whose body was not read (a 408, a 403), it would go on
        # reading ("lingering") for up to 10 s; lingering_time=0 closes the connection instead.
        return web.AppRunner(self.app, access_log=None, handle_signals=False,
                             keepalive_timeout=self.header_timeout, lingering_time=0,
                             logger=self.protocol_log)

    def _reject(self, status: int, kind: str, message: str, *args: object) -> web.Response:
        self.gate.log(logging.WARNING, kind, "webhook: " + message, *args)
        return web.json_response({"ok": False, "error": kind}, status=status)

    @web.middleware
    async def _unexpected(self, request: web.Request,
                          handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except (web.HTTPException, asyncio.CancelledError):
            raise
        except Exception as exc:
            self.gate.log(logging.ERROR, "unexpected", "webhook: failed on a request to %s",
                          request.path, exc_info=exc)
            return web.json_response({"ok": False, "error": "internal"}, status=500)
        return response

    async def receive(self, request: web.Request) -> web.StreamResponse:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret):
            return self._reject(403, "forbidden", "request without the right secret from %s",
                                request.remote)
        if not self.ready.is_set():
            return web.json_response({"ok": False, "error": "starting"}, status=503)
        try:
            async with asyncio.timeout(self.body_timeout):
                body = await request.read()
        except TimeoutError:
            response = self._reject(408, "slow body", "no request body from %s within %g s; "
                                    "disconnected", request.remote, self.body_timeout)
            response.force_close()
            return response
        except ConnectionError:
            self.gate.log(logging.INFO, "gone", "webhook: %s disconnected while sending",
                          request.remote)
            return web.json_response({"ok": False, "error": "gone"}, status=400)
        try:
            data = json.loads(body)
        except ValueError:  # UnicodeDecodeError is a ValueError too
            return self._reject(400, "bad json", "request body from %s is not JSON", request.remote)
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return self._reject(400, "bad update", "request body from %s is not an update",
                                request.remote)
        if update_id in self.recent:
            return self._duplicate(update_id)
        try:
            update = Update.de_json(data, self.bot)
        except Exception as exc:  # whatever the parser says about a malformed update
            return self._reject(400, "bad update", "update %d from %s does not parse (%s)",
                                update_id, request.remote, type(exc).__name__)
        if not self.recent.add(update_id):
            return self._duplicate(update_id)  # the same update, in twice at once
        if self.first_delivery is not None and not await self.first_delivery(update_id):
            return self._duplicate(update_id)  # another replica took it in
        await self.queue.put(update)
        return web.json_response({"ok": True})

    def _duplicate(self, update_id: int) -> web.Response:
        self.duplicates += 1
        self.gate.log(logging.INFO, "duplicate", "webhook: update %d delivered again; "
                      "acknowledged, not processed again", update_id)
        return web.json_response({"ok": True})

    async def healthz(self, request: web.Request) -> web.Response:
        status = 200 if self.ready.is_set() else 503
        return web.json_response({"ready": self.ready.is_set()}, status=status)


def webhook_routes(bot_app: BotApp, secret: str, path: str, ready: asyncio.Event) -> web.Application:
    return webhook_server(bot_app, secret, path, ready).app


def webhook_server(bot_app: BotApp, secret: str, path: str, ready: asyncio.Event) -> WebhookServer:
    """The server for ``bot_app``: update ids shared with the other replicas when the store is."""
    application, runtime = bot_app.application, bot_app.runtime
    return WebhookServer(application.bot, application.update_queue, secret, path, ready,
                         metrics=bot_app.metrics,
                         first_delivery=runtime.first_delivery if runtime.shared else None)


async def serve_webhook(bot_app: BotApp, settings: Settings) -> int:
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    secret = settings.webhook_secret.get_secret_value()
    path = urlparse(settings.webhook_url).path or "/"
    ready = asyncio.Event()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    application = bot_app.application
    server = webhook_server(bot_app, secret, path, ready)
    runner = server.runner()
    await runner.setup()
    site = web.TCPSite(runner, settings.webhook_listen, settings.webhook_port)
    async with application:
        await site.start()
        if application.post_init is not None:
            await application.post_init(application)
        await application.bot.set_webhook(settings.webhook_url, secret_token=secret,
                                          allowed_updates=ALLOWED_UPDATES)
        await application.start()
        ready.set()
        log.info("listening for webhook requests on %s:%s", settings.webhook_listen,
                 settings.webhook_port)
        await stop.wait()
        ready.clear()
        await runner.cleanup()
        await application.stop()
        server.gate.flush()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
    return 0
