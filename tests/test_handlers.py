"""The Telegram handlers' error path, with PTB's own update objects and a recording bot."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from telegram import Update
from telegram.error import BadRequest

from back_care_guide.telegram.handlers import Handlers
from tests.harness import ChatClient

PRESS = {
    "update_id": 7,
    "callback_query": {
        "id": "q1",
        "chat_instance": "c",
        "data": "v1|1|agree",
        "from": {"id": 42, "is_bot": False, "first_name": "Ann"},
        "message": {"message_id": 3, "date": 1_700_000_000, "text": "Shall we start?",
                    "chat": {"id": 42, "type": "private", "first_name": "Ann"}},
    },
}


class RecordingBot:
    """Enough of ``telegram.Bot`` for the error handler; answering a press can be made to fail."""

    defaults = None

    def __init__(self, answered_already: bool) -> None:
        self.answered_already = answered_already
        self.sent: list[tuple[int, str]] = []

    async def answer_callback_query(self, callback_query_id: str, **_: Any) -> bool:
        if self.answered_already:  # what Telegram says to a second answer
            raise BadRequest("Query is too old and response timeout expired or query id is invalid")
        return True

    async def send_message(self, chat_id: int, text: str, **_: Any) -> None:
        self.sent.append((chat_id, text))


async def test_a_failed_press_gets_the_apology_even_if_it_was_acknowledged(client: ChatClient) -> None:
    handlers = Handlers(client.runtime, client.runtime.engine.bundle)
    for answered_already in (True, False):
        bot = RecordingBot(answered_already)
        update = Update.de_json(PRESS, bot)  # type: ignore[arg-type]
        context = SimpleNamespace(error=RuntimeError("boom"), bot=bot)
        await handlers.on_error(update, context)  # type: ignore[arg-type]
        assert bot.sent == [(42, "Sorry, something went wrong on my side. Send /start to begin again, "
                                 "or /help.")]


def test_a_group_message_is_for_the_bot_when_it_mentions_or_replies_to_it() -> None:
    from datetime import UTC, datetime

    from telegram import Chat, Message, User

    from back_care_guide.telegram.handlers import addressed_to_bot, media_kind

    group = Chat(-100, Chat.SUPERGROUP)
    bot_user = User(99, "Back Care Guide", is_bot=True)
    when = datetime(2026, 1, 1, tzinfo=UTC)
    ours = Message(1, when, group, from_user=bot_user, text="hi")
    assert addressed_to_bot(Message(2, when, group, text="@BackCareBot my leg is numb"),
                            "backcarebot", 99)
    assert addressed_to_bot(Message(3, when, group, text="my leg is numb", reply_to_message=ours),
                            "backcarebot", 99)
    assert not addressed_to_bot(Message(4, when, group, text="my leg is numb"), "backcarebot", 99)
    assert media_kind(Message(5, when, group, text="x")) == "other"


def _private_text(text: str, language_code: str) -> dict[str, Any]:
    return {"update_id": 8, "message": {
        "message_id": 4, "date": 1_700_000_000, "text": text,
        "from": {"id": 42, "is_bot": False, "first_name": "Ann", "language_code": language_code},
        "chat": {"id": 42, "type": "private", "first_name": "Ann"}}}


async def test_a_red_flag_goes_first_whatever_language_the_app_is_in(client: ChatClient) -> None:
    """The queue is jumped before the profile is read, so before the person's chosen
    language (/language) is known: every language the bot speaks reads the message."""
    handlers = Handlers(client.runtime, client.runtime.engine.bundle)
    bot = RecordingBot(answered_already=False)
    for text, app in [("no puedo controlar la orina desde esta mañana", "en"),
                      ("seit heute morgen kann ich den Urin nicht mehr halten", "es-MX"),
                      ("I can't control my bladder since this morning", "de")]:
        update = Update.de_json(_private_text(text, app), bot)  # type: ignore[arg-type]
        assert handlers.is_red_flag(update), text
    calm = Update.de_json(_private_text("hola, ¿cómo funciona esto?", "en"), bot)  # type: ignore[arg-type]
    assert not handlers.is_red_flag(calm)


def test_handler_texts_follow_the_app_language_the_bot_speaks(client: ChatClient) -> None:
    handlers = Handlers(client.runtime, client.runtime.engine.bundle)
    bot = RecordingBot(answered_already=False)
    for app, language in [("es-MX", "es"), ("de", "de"), ("fr", "en"), ("pt-BR", "en")]:
        update = Update.de_json(_private_text("hola", app), bot)  # type: ignore[arg-type]
        assert handlers.texts(update).language == language, app
