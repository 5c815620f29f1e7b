"""Webhook mode: a small aiohttp server in front of the PTB application.

Telegram sends every update with the secret given to ``setWebhook`` in the
``X-Telegram-Bot-Api-Secret-Token`` header; a request without the right secret gets 403
and is not processed. ``GET /healthz`` says whether the bot is ready (for load balancers
and container health checks).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
from urllib.parse import urlparse

from aiohttp import web
from telegram import Update

from bot.settings import Settings
from bot.telegram.app import ALLOWED_UPDATES, BotApp

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1 << 20


def webhook_routes(bot_app: BotApp, secret: str, path: str, ready: asyncio.Event) -> web.Application:
    application = bot_app.application

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return web.json_response({"ok": False, "error": "forbidden"}, status=403)
        if not ready.is_set():
            return web.json_response({"ok": False, "error": "starting"}, status=503)
        try:
            data = json.loads(await request.read())
            update = Update.de_json(data, application.bot)
        except (ValueError, TypeError, KeyError):
            return web.json_response({"ok": False, "error": "bad update"}, status=400)
        await application.update_queue.put(update)
        return web.json_response({"ok": True})

    async def healthz(request: web.Request) -> web.Response:
        status = 200 if ready.is_set() else 503
        return web.json_response({"ready": ready.is_set()}, status=status)

    web_app = web.Application(client_max_size=MAX_BODY)
    web_app.router.add_post(path, receive)
    web_app.router.add_get("/healthz", healthz)
    return web_app


async def serve_webhook(bot_app: BotApp, settings: Settings) -> int:
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    secret = settings.webhook_secret.get_secret_value()
    path = urlparse(settings.webhook_url).path or "/"
    ready = asyncio.Event()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    runner = web.AppRunner(webhook_routes(bot_app, secret, path, ready), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.webhook_listen, settings.webhook_port)
    application = bot_app.application
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
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
    return 0
