"""python-telegram-bot handlers: Telegram updates in, engine events out.

The engine (through ``transitions``) owns all conversation state; these handlers keep
none. Health conversations happen in private chats only. In a group, a command gets one
line inviting the user to a private chat, and a message addressed to the bot (a mention
or a reply) that triage finds alarming gets the urgent advice with the default emergency
numbers, stored nowhere. Channel posts are ignored.
"""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Message, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from back_care_guide.engine.events import Choose, Command, Media, Text
from back_care_guide.engine.runtime import Runtime
from back_care_guide.flow.loader import FlowBundle
from back_care_guide.flow.texts import Texts
from back_care_guide.telegram.callback import decode
from back_care_guide.telegram.processor import update_kind
from back_care_guide.telegram.render import escape

log = logging.getLogger(__name__)
Context = ContextTypes.DEFAULT_TYPE


class Handlers:
    def __init__(self, runtime: Runtime, bundle: FlowBundle) -> None:
        self.runtime = runtime
        self.bundle = bundle

    def install(self, app: Application) -> None:  # type: ignore[type-arg]
        private = filters.ChatType.PRIVATE
        new = filters.UpdateType.MESSAGE
        app.add_handler(MessageHandler(private & new & filters.COMMAND, self.on_command))
        app.add_handler(MessageHandler(private & new & filters.TEXT, self.on_text))
        app.add_handler(MessageHandler(private & filters.UpdateType.EDITED_MESSAGE, self.on_edited))
        app.add_handler(MessageHandler(private & new, self.on_other))
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_handler(MessageHandler(filters.ChatType.GROUPS & new & filters.COMMAND, self.on_group))
        app.add_handler(MessageHandler(
            filters.ChatType.GROUPS & new & filters.TEXT & (filters.Entity("mention") | filters.REPLY),
            self.on_group_mention))
        app.add_error_handler(self.on_error)

    def is_red_flag(self, update: Update) -> bool:
        """Whether a private message's text or caption is alarming (it then goes first)."""
        message = update.message or update.edited_message
        chat = update.effective_chat
        if message is None or chat is None or chat.type != chat.PRIVATE:
            return False
        text = message.text or message.caption
        if not text or text.startswith("/"):
            return False
        # Every language: the person may have chosen another than their app's (/language).
        return self.runtime.engine.triage.alarming_in_any_language(text)

    def language(self, update: Update) -> str | None:
        """The language of the person's Telegram app, if the bot speaks it. Only for what is
        answered before their profile is read; the runtime answers in their chosen one."""
        user = update.effective_user
        return self.bundle.language_for(user.language_code if user else None)

    def texts(self, update: Update) -> Texts:
        return self.bundle.texts(self.language(update))

    # ------------------------------------------------------------ messages
    async def on_command(self, update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None and update.effective_chat
        word, _, args = message.text.partition(" ")
        name = word[1:].split("@", 1)[0].lower()
        language = update.effective_user.language_code if update.effective_user else None
        await self.runtime.dispatch(Command(update.effective_chat.id, name, args.strip(), language))

    async def on_text(self, update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None and update.effective_chat
        await self.runtime.dispatch(Text(update.effective_chat.id, message.text))

    async def on_edited(self, update: Update, context: Context) -> None:
        """An edit does not move the conversation, but it is read for safety like any text."""
        message = update.effective_message
        assert message is not None and update.effective_chat
        text = message.text or message.caption
        if text:
            await self.runtime.dispatch(Text(update.effective_chat.id, text, "edited"))
        else:
            await message.reply_text(self.texts(update).get("system.not_text"), do_quote=False)

    async def on_other(self, update: Update, context: Context) -> None:
        """Stickers, photos, voice, files, locations... The engine decides: a caption is read
        for safety, and media during a hold pauses it and asks whether the person is OK."""
        message = update.effective_message
        assert message is not None and update.effective_chat
        await self.runtime.dispatch(
            Media(update.effective_chat.id, media_kind(message), message.caption or ""))

    async def on_group_mention(self, update: Update, context: Context) -> None:
        """A group message for the bot: only an alarming one is answered, and nothing is kept."""
        message = update.effective_message
        if message is None or message.text is None or update.effective_chat is None:
            return
        if not addressed_to_bot(message, context.bot.username, context.bot.id):
            return
        advice = self.runtime.engine.group_advice(message.text, self.language(update))
        if advice is not None:
            await self.runtime.transport.send(update.effective_chat.id, advice)

    async def on_group(self, update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None
        await message.reply_text(self.texts(update).get("system.group"), do_quote=False)

    # ------------------------------------------------------------ buttons
    async def on_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None
        payload = decode(query.data)
        chat = update.effective_chat
        if payload is None or chat is None or chat.type != chat.PRIVATE:
            await self._answer(query, self.texts(update).get("system.moved_on"))
            return
        async def acknowledge(toasts: list[str]) -> None:
            await self._answer(query, toasts[0] if toasts else None)

        toasts = await self.runtime.dispatch(Choose(chat.id, payload.seq, payload.choice), acknowledge)
        if payload.seq == 0 and not toasts:
            await self._close_feature_prompt(query, update)

    async def _close_feature_prompt(self, query: CallbackQuery, update: Update) -> None:
        """A reminder or settings question was answered: show the answer, drop its buttons.

        (Flow questions are closed by the engine, which tracks them; these are one-off.)
        """
        message = query.message
        if not isinstance(message, Message) or message.text is None or message.reply_markup is None:
            return
        label = next((b.text for row in message.reply_markup.inline_keyboard for b in row
                      if b.callback_data == query.data), None)
        if label is None:
            return
        answer = self.texts(update).get("answer.chosen", label=label)
        try:
            await message.edit_text(escape(f"{message.text}\n\n{answer}"), reply_markup=None)
        except TelegramError as exc:  # not modified, too old: the press already worked
            log.debug("feature prompt not edited: %s", type(exc).__name__)

    @staticmethod
    async def _answer(query: CallbackQuery, text: str | None) -> None:
        """Best effort: an unanswered press only spins a little longer on the user's phone."""
        try:
            await query.answer(text)
        except TelegramError as exc:  # too old, already answered, network: nothing is lost
            log.debug("callback not answered: %s", type(exc).__name__)

    # ------------------------------------------------------------ errors
    async def on_error(self, update: object, context: Context) -> None:
        """Log the failure (never the message text) and give the user a way forward."""
        error = context.error
        log.error("failed to handle an update: %s", type(error).__name__,
                  exc_info=(type(error), error, error.__traceback__) if error else None,
                  extra={"update_kind": update_kind(update)})
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        if update.effective_chat.type != update.effective_chat.PRIVATE:
            return
        if update.callback_query is not None:  # unless it was acknowledged before the failure
            await self._answer(update.callback_query, None)
        try:
            await context.bot.send_message(update.effective_chat.id,
                                           self.texts(update).get("system.error"))
        except Exception as exc:  # the apology itself failed: nothing more to do
            log.warning("could not send the apology: %s", type(exc).__name__)


MEDIA_KINDS = ("voice", "video_note", "audio", "sticker", "photo", "video", "animation",
               "document")


def media_kind(message: Message) -> str:
    """Which kind of non-text message this is (for the engine: all of them pause a hold)."""
    return next((kind for kind in MEDIA_KINDS if getattr(message, kind, None)), "other")


def addressed_to_bot(message: Message, username: str | None, bot_id: int) -> bool:
    """A mention of the bot's @username, or a reply to one of the bot's messages."""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return True
    text = (message.text or "").casefold()
    return bool(username) and f"@{username}".casefold() in text
