"""``python -m back_care_guide run``: wire python-telegram-bot to the engine and run it.

One :func:`build_application` wires everything (handlers, defaults, the send scheduler as
PTB's rate limiter, per-chat update ordering, start-up and shutdown hooks), as in PTB's own
examples.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from dataclasses import dataclass
from functools import partial
from typing import Any

from telegram import Bot, BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken
from telegram.ext import Application, ApplicationBuilder, Defaults

from back_care_guide.components import Core, build_core, build_runtime
from back_care_guide.engine.runtime import Runtime
from back_care_guide.flow.loader import DEFAULT_LANGUAGE, FlowBundle
from back_care_guide.observability.metrics import Metrics
from back_care_guide.observability.server import MetricsServer
from back_care_guide.settings import Settings
from back_care_guide.store.coordination import Coordination, Leadership
from back_care_guide.telegram.handlers import Handlers
from back_care_guide.telegram.processor import PerChatUpdateProcessor
from back_care_guide.telegram.request import AiohttpRequest
from back_care_guide.telegram.sending import PER_CHAT_RATE, SendScheduler
from back_care_guide.telegram.share import BudgetShare
from back_care_guide.telegram.transport import TelegramTransport

log = logging.getLogger(__name__)

COMMANDS = ("start", "stop", "redflags", "remind", "reminders", "progress", "timezone", "country",
            "language", "privacy", "export", "delete", "help")
ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY]
# Updates handled at once. Under a burst most of them only wait for their turn to send;
# a red flag takes no slot (see PerChatUpdateProcessor), so it never waits behind them.
MAX_CONCURRENT_UPDATES = 256
# As many connections as updates in flight (PTB's own default pool is 256 too): a press sends
# its reply and its acknowledgement at once, and a smaller pool queued replies under load.
HTTP_CONNECTIONS = 256
STANDBY_POLL = 0.5  # seconds between a standby's attempts to become the poller
FLOOD_RETRIES = 5  # 429 answers retried (after the wait Telegram asks for) before giving up


def build_scheduler(settings: Settings, metrics: Metrics | None = None) -> SendScheduler:
    """Safety first, then replies, tidy-ups, reminders (see :mod:`back_care_guide.telegram.sending`).

    TELEGRAM_MAX_RATE=0 turns pacing off (overall and per chat); ordering and 429s still apply.
    """
    rate = settings.telegram_max_rate or 0.0
    return SendScheduler(rate, per_chat_rate=PER_CHAT_RATE if rate else 0.0,
                         max_retries=FLOOD_RETRIES, metrics=metrics)


def menu(bundle: FlowBundle, language: str) -> list[BotCommand]:
    """The command menu in ``language``."""
    texts = bundle.texts(language)
    return [BotCommand(name, texts.get(f"commands.{name}")) for name in COMMANDS]


async def set_commands(bot: Bot, bundle: FlowBundle) -> None:
    """The command menu in every language the bot speaks, by Telegram's ``language_code``; the
    default (English) last, so that it being set means the menu is complete. A person who
    chose a language with /language gets a menu of their own (:class:`TelegramTransport`)."""
    languages = sorted(set(bundle.locales) - {DEFAULT_LANGUAGE})
    for language in (*languages, DEFAULT_LANGUAGE):
        await bot.set_my_commands(menu(bundle, language),
                                  language_code=None if language == DEFAULT_LANGUAGE else language)


class BotApplication(Application):  # type: ignore[type-arg]
    """PTB's Application without per-user bookkeeping for a persistence layer it doesn't have.

    PTB 22 records every chat and user id for its own persistence even when there is none,
    and never empties those sets (about 230 bytes per user, forever). This bot keeps its
    state in its own store, so idle users must cost nothing here.
    """

    def _mark_for_persistence_update(self, *, update: object | None = None,
                                     job: Any = None) -> None:
        if self.persistence is not None:
            super()._mark_for_persistence_update(update=update, job=job)


@dataclass
class BotApp:
    application: Application  # type: ignore[type-arg]
    runtime: Runtime
    core: Core
    metrics: Metrics


def build_application(settings: Settings, core: Core | None = None,
                      bundle: FlowBundle | None = None) -> BotApp:
    core = core or build_core(settings, bundle)
    assert settings.telegram_bot_token is not None
    base_url = settings.telegram_base_url.rstrip("/")
    metrics = Metrics()
    processor = PerChatUpdateProcessor(MAX_CONCURRENT_UPDATES, metrics=metrics)
    scheduler = build_scheduler(settings, metrics)
    builder = (
        ApplicationBuilder()
        .application_class(BotApplication)
        .token(settings.telegram_bot_token.get_secret_value())
        .request(AiohttpRequest(connections=HTTP_CONNECTIONS, metrics=metrics))
        .get_updates_request(AiohttpRequest(connections=1, metrics=metrics))
        .base_url(base_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML,
                           link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .concurrent_updates(processor)
        .rate_limiter(scheduler)
    )
    if base_url.endswith("/bot"):
        builder = builder.base_file_url(base_url[: -len("/bot")] + "/file/bot")
    if settings.webhook_url:
        builder = builder.updater(None)
    application = builder.build()
    transport = TelegramTransport(application.bot, partial(menu, core.bundle))
    runtime = build_runtime(settings, core, transport, metrics)
    handlers = Handlers(runtime, core.bundle)
    handlers.install(application)
    processor.urgent = handlers.is_red_flag
    bot_app = BotApp(application, runtime, core, metrics)
    metrics_server = MetricsServer(metrics, settings.metrics_listen, settings.metrics_port) \
        if settings.metrics_port else None
    share = BudgetShare(core.store.coordination, scheduler, runtime,
                        max_rate=settings.telegram_max_rate, reminder_rate=settings.reminder_rate) \
        if runtime.shared else None

    async def post_init(app: Application) -> None:  # type: ignore[type-arg]
        if metrics_server is not None:
            await metrics_server.start()
        if share is not None:
            await share.start()
        await runtime.start()
        await set_commands(app.bot, core.bundle)
        mode = "webhook" if settings.webhook_url else "polling"
        log.info("Back Care Guide is running (%s) as @%s", mode, app.bot.username)

    async def close_runtime(app: Application) -> None:  # type: ignore[type-arg]
        """Close the runtime while the bot can still send: its timers and reminders may have
        messages on the way, and PTB's shutdown closes the scheduler and the HTTP client.
        Polling calls this as post_stop (before shutdown), the webhook server as post_shutdown
        (inside ``async with application``); the first call does it, the second nothing."""
        if share is not None:
            await share.stop()
        await runtime.close()
        if metrics_server is not None:
            await metrics_server.stop()

    application.post_init = post_init
    application.post_stop = close_runtime
    application.post_shutdown = close_runtime
    return bot_app


def run_telegram(settings: Settings, bundle: FlowBundle | None = None) -> int:
    problem = settings.token_problem() or settings.webhook_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    bot_app = build_application(settings, bundle=bundle)
    if settings.webhook_url:
        from back_care_guide.telegram.webhook import serve_webhook

        return asyncio.run(serve_webhook(bot_app, settings))
    leadership = _lead_polling(bot_app.core.store.coordination)
    if leadership is None:
        return 0  # stopped while standing by
    leadership.watch(lambda: os.kill(os.getpid(), signal.SIGTERM))
    try:
        bot_app.application.run_polling(allowed_updates=ALLOWED_UPDATES,
                                        stop_signals=(signal.SIGINT, signal.SIGTERM))
    except InvalidToken:
        print("error: Telegram rejected TELEGRAM_BOT_TOKEN (check it with @BotFather)",
              file=sys.stderr)
        return 2
    finally:
        leadership.release()
    if leadership.lost():
        log.error("lost the database connection that made this process the poller; stopped "
                  "(another process may poll now)")
        return 1
    return 0


class _Stopped(Exception):
    pass


def _stop(signum: int, frame: object) -> None:
    raise _Stopped


def _lead_polling(coordination: Coordination) -> Leadership | None:
    """Only one process may poll Telegram: on a shared database, a second one waits here as a
    hot standby (checking every :data:`STANDBY_POLL` seconds) and takes over when the first is
    gone. ``None`` if a signal stopped it while waiting."""
    def waiting() -> None:
        log.warning("another process is polling Telegram with this database; standing by to "
                    "take over when it stops")

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        leadership = coordination.lead("polling", on_wait=waiting, poll=STANDBY_POLL)
    except (_Stopped, InterruptedError):
        return None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if coordination.shared:
        log.info("this process polls Telegram now")
    return leadership
