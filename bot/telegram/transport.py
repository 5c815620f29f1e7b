"""Carries engine effects to Telegram through python-telegram-bot's ``Bot``.

Flood control (429) is handled by PTB's ``AIORateLimiter`` (it pauses and retries, so a
message arrives exactly once). Here we add what it does not do: bounded retries with
backoff for network errors and 5xx, and turning "the user blocked the bot" into
:class:`~bot.engine.runtime.RecipientGone` for the runtime.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.engine.events import ClosePrompt, Send, SendPhoto
from bot.engine.runtime import RecipientGone
from bot.reminders.dispatcher import FloodWait
from bot.telegram.render import escape, keyboard, split_text

log = logging.getLogger(__name__)
T = TypeVar("T")

NETWORK_RETRIES = 4
BACKOFF_START = 0.5  # seconds, doubled on every retry
BACKOFF_MAX = 8.0
RETRY_AFTER_ATTEMPTS = 5  # extra safety net if a 429 gets past the rate limiter
HARMLESS_EDIT_ERRORS = ("message is not modified", "message to edit not found",
                        "message can't be edited")


class TelegramTransport:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, user_id: int, message: Send) -> int | None:
        parts = split_text(message.text)
        markup = keyboard(message.buttons, message.seq)
        sent: Message | None = None
        for i, part in enumerate(parts):
            sent = await self._send_part(user_id, part, markup if i == len(parts) - 1 else None)
        return sent.message_id if sent is not None else None

    async def _send_part(self, user_id: int, text: str, markup: InlineKeyboardMarkup | None
                         ) -> Message:
        return await self._call(lambda: self.bot.send_message(
            chat_id=user_id, text=escape(text), reply_markup=markup))

    async def send_photo(self, user_id: int, photo: SendPhoto) -> None:
        await self._call(lambda: self.bot.send_photo(
            chat_id=user_id, photo=photo.png, caption=escape(photo.caption)))

    async def close_prompt(self, user_id: int, close: ClosePrompt) -> None:
        prompt = close.prompt
        try:
            if close.answer is None:
                await self._call(lambda: self.bot.edit_message_reply_markup(
                    chat_id=user_id, message_id=prompt.ref, reply_markup=None))
            else:
                text = split_text(prompt.text)[-1] + "\n\n" + close.answer
                await self._call(lambda: self.bot.edit_message_text(
                    chat_id=user_id, message_id=prompt.ref, text=escape(text), reply_markup=None))
        except BadRequest as exc:
            # Not modified / not found / too old to edit: the buttons are already gone or
            # harmless (a press on them is answered as stale). Never worth failing over.
            harmless = any(s in exc.message.lower() for s in HARMLESS_EDIT_ERRORS)
            log.log(logging.DEBUG if harmless else logging.WARNING, "prompt not edited: %s",
                    exc.message)

    async def _call(self, request: Callable[[], Awaitable[T]]) -> T:
        delay = BACKOFF_START
        network_failures = 0
        flood_waits = 0
        while True:
            try:
                return await request()
            except Forbidden as exc:
                raise RecipientGone() from exc
            except RetryAfter as exc:
                wait = exc.retry_after
                seconds = float(wait) if isinstance(wait, int | float) else wait.total_seconds()
                flood_waits += 1
                if flood_waits > RETRY_AFTER_ATTEMPTS:
                    raise FloodWait(seconds) from exc
                await asyncio.sleep(seconds)
            except BadRequest:
                raise
            except (TimedOut, NetworkError) as exc:
                network_failures += 1
                if network_failures > NETWORK_RETRIES:
                    raise
                log.warning("Telegram request failed (%s); retrying in %.1f s",
                            type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
