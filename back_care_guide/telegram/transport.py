"""Carries engine effects to Telegram through python-telegram-bot's ``Bot``.

Every call names its class for the send scheduler (:mod:`back_care_guide.telegram.sending`): a
message, or the edit that turns an answered question into the next one, goes with its
:class:`~back_care_guide.engine.events.Priority`, a chart as a REPLY. The scheduler paces
sends and retries 429s; if it gives up, the ``RetryAfter`` becomes
:class:`~back_care_guide.reminders.dispatcher.FloodWait`. Here we add what it does not do: bounded
retries with backoff for network errors and 5xx, and turning "the user blocked the bot"
into :class:`~back_care_guide.engine.runtime.RecipientGone` for the runtime.

A step with a picture of the position goes as a photo whose caption is the step's text. Each
picture is uploaded once; Telegram's ``file_id`` of it is kept and re-sent after that. A
hold's start (an edit of its position's photo) and its halfway note (an edit again) never
notify: the end of the hold is the message that should make the phone buzz.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram import BotCommand, BotCommandScopeChat, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import ExtBot

from back_care_guide.engine.events import Priority, Prompt, Send, SendDocument, SendPhoto
from back_care_guide.engine.runtime import RecipientGone
from back_care_guide.pictures import picture_png
from back_care_guide.reminders.dispatcher import FloodWait
from back_care_guide.telegram.render import MAX_TEXT, escape, keyboard, split_text
from back_care_guide.telegram.sending import Lane, SendScheduler, retry_after_seconds

log = logging.getLogger(__name__)
T = TypeVar("T")

NETWORK_RETRIES = 4
BACKOFF_START = 0.5  # seconds, doubled on every retry
BACKOFF_MAX = 8.0
RETRY_AFTER_ATTEMPTS = 5  # only without the scheduler (which retries 429s itself)
CAPTION_LIMIT = 1024  # Telegram's limit for a photo's caption; longer steps go as text


class TelegramTransport:
    def __init__(self, bot: ExtBot[Any], menu: Callable[[str], list[BotCommand]] | None = None) -> None:
        self.bot = bot
        self.menu = menu  # the command menu in a language
        # PTB accepts rate_limit_args only with a rate limiter, and ours only understands Lane.
        self.scheduled = isinstance(bot.rate_limiter, SendScheduler)
        self._flood_retries = 0 if self.scheduled else RETRY_AFTER_ATTEMPTS
        self._file_ids: dict[str, str] = {}  # picture name -> Telegram's file_id of its upload

    def _lane(self, priority: Priority) -> Lane | None:
        return Lane(priority) if self.scheduled else None

    async def send(self, user_id: int, message: Send) -> int | None:
        markup = keyboard(message.buttons, message.seq)
        if message.replaces is not None and await self._edit(user_id, message.replaces, message, markup):
            return message.replaces.ref
        if message.picture is not None and len(message.text) <= CAPTION_LIMIT:
            return (await self._send_picture(user_id, message, markup)).message_id
        parts = split_text(message.text)
        sent: Message | None = None
        for i, part in enumerate(parts):
            sent = await self._send_part(user_id, part, markup if i == len(parts) - 1 else None,
                                         message)
        return sent.message_id if sent is not None else None

    async def _send_part(self, user_id: int, text: str, markup: InlineKeyboardMarkup | None,
                         message: Send) -> Message:
        lane = self._lane(message.priority)
        return await self._call(lambda: self.bot.send_message(
            chat_id=user_id, text=escape(text), reply_markup=markup,
            disable_notification=message.silent, rate_limit_args=lane))

    async def _send_picture(self, user_id: int, message: Send,
                            markup: InlineKeyboardMarkup | None) -> Message:
        assert message.picture is not None
        name = message.picture
        known = self._file_ids.get(name)
        photo: str | bytes = known if known is not None else await asyncio.to_thread(picture_png, name)
        lane = self._lane(message.priority)
        sent = await self._call(lambda: self.bot.send_photo(
            chat_id=user_id, photo=photo, caption=escape(message.text), reply_markup=markup,
            disable_notification=message.silent, rate_limit_args=lane))
        if sent.photo and name not in self._file_ids:
            self._file_ids[name] = sent.photo[-1].file_id  # uploaded once, re-sent by file_id
        return sent

    async def send_photo(self, user_id: int, photo: SendPhoto) -> None:
        lane = self._lane(Priority.REPLY)
        await self._call(lambda: self.bot.send_photo(
            chat_id=user_id, photo=photo.png, caption=escape(photo.caption), rate_limit_args=lane))

    async def send_document(self, user_id: int, document: SendDocument) -> None:
        lane = self._lane(Priority.REPLY)
        await self._call(lambda: self.bot.send_document(
            chat_id=user_id, document=document.data, filename=document.filename,
            caption=escape(document.caption), rate_limit_args=lane))

    async def show_menu(self, user_id: int, language: str) -> None:
        """The person's own command menu (scope: their chat), in the language they chose; it
        wins over the menu by their app's language. Best effort: the menu is a convenience."""
        if self.menu is None:
            return
        try:
            await self.bot.set_my_commands(self.menu(language), scope=BotCommandScopeChat(user_id))
        except TelegramError as exc:
            log.warning("could not set a chat's command menu: %s", type(exc).__name__)

    async def forget(self, user_id: int) -> None:
        """Telegram keeps the chat itself; the bot drops the person's own command menu, if
        they had one, so the menu by their app's language shows again."""
        if self.menu is None:
            return
        try:
            await self.bot.delete_my_commands(scope=BotCommandScopeChat(user_id))
        except TelegramError as exc:
            log.warning("could not drop a chat's command menu: %s", type(exc).__name__)

    async def _edit(self, user_id: int, prompt: Prompt, message: Send,
                    markup: InlineKeyboardMarkup | None) -> bool:
        """Edit ``prompt`` into ``message``; False when that can't be done (send it anew).

        A photo keeps its picture and takes the text as its caption; a text message can't
        become a photo. Telegram refuses edits of messages that are gone or too old.
        """
        if message.picture is not None and not prompt.picture:
            return False
        if len(message.text) > (CAPTION_LIMIT if prompt.picture else MAX_TEXT):
            return False
        lane = self._lane(message.priority)
        try:
            if prompt.picture:
                await self._call(lambda: self.bot.edit_message_caption(
                    chat_id=user_id, message_id=prompt.ref, caption=escape(message.text),
                    reply_markup=markup, rate_limit_args=lane))
            else:
                await self._call(lambda: self.bot.edit_message_text(
                    chat_id=user_id, message_id=prompt.ref, text=escape(message.text),
                    reply_markup=markup, rate_limit_args=lane))
        except BadRequest as exc:
            if "message is not modified" in exc.message.lower():
                return True  # it already says this (a repeated edit after a retry)
            log.debug("prompt not edited, sent anew: %s", exc.message)
            return False
        return True

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
                seconds = retry_after_seconds(exc)
                flood_waits += 1
                if flood_waits > self._flood_retries:
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
