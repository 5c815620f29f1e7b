"""The framework's floor: a bare python-telegram-bot echo bot.

    TELEGRAM_BOT_TOKEN=... TELEGRAM_BASE_URL=http://127.0.0.1:PORT/bot python -m bench.echo_bot

Every message is answered with one ``sendMessage``; every button press is answered
(``answerCallbackQuery``) and gets one ``sendMessage``. Polling, the same allowed updates
and the same number of concurrently processed updates as the project's bot
(``back_care_guide.telegram.app``), PTB's default connection pool; no rate limiter, no defaults, no
state. SIGTERM/SIGINT stop it cleanly.

``ECHO_HTTP=aiohttp`` gives it the project's HTTP client (``back_care_guide.telegram.request``) instead
of PTB's default, to compare the two bots on equal terms.
"""

from __future__ import annotations

import os
import signal

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from back_care_guide.telegram.app import ALLOWED_UPDATES, HTTP_CONNECTIONS, MAX_CONCURRENT_UPDATES
from back_care_guide.telegram.request import AiohttpRequest


async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None and update.effective_chat is not None:
        await context.bot.send_message(update.effective_chat.id, message.text or "echo")


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    if update.effective_chat is not None:
        await context.bot.send_message(update.effective_chat.id, query.data or "echo")


def build(token: str, base_url: str) -> Application:  # type: ignore[type-arg]
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(base_url.rstrip("/"))
        .concurrent_updates(MAX_CONCURRENT_UPDATES)
    )
    if os.environ.get("ECHO_HTTP") == "aiohttp":
        builder = builder.request(AiohttpRequest(connections=HTTP_CONNECTIONS)).get_updates_request(
            AiohttpRequest(connections=1))
    application = builder.build()
    application.add_handler(MessageHandler(filters.ALL, on_message))
    application.add_handler(CallbackQueryHandler(on_button))
    return application


def main() -> None:
    application = build(os.environ["TELEGRAM_BOT_TOKEN"], os.environ["TELEGRAM_BASE_URL"])
    application.run_polling(allowed_updates=ALLOWED_UPDATES, stop_signals=(signal.SIGINT, signal.SIGTERM))


if __name__ == "__main__":
    main()
