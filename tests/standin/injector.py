"""The user side: updates that people (and channels) cause, built like Telegram builds them."""

from __future__ import annotations

import re
import time
from typing import Any

from .core import StandinCore
from .entities import utf16_len
from .models import (
    CHANNEL,
    GROUP,
    PRIVATE,
    SUPERGROUP,
    CallbackQueryRecord,
    ChatInfo,
    StoredMessage,
    UserInfo,
)

JSONDict = dict[str, Any]

_BOT_COMMAND = re.compile(r"(?:^|(?<=\s))/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?=[^\w@/]|$)")


def detect_entities(text: str) -> list[JSONDict]:
    """The ``bot_command`` entities Telegram adds to an incoming text."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: match.start()]),
            "length": utf16_len(match.group()),
        }
        for match in _BOT_COMMAND.finditer(text)
    ]


class UserSide:
    """Creates users/chats and turns their actions into updates."""

    def __init__(self, core: StandinCore) -> None:
        self.core = core

    # -- people and chats --------------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        first_name: str = "User",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        is_premium: bool | None = None,
        started: bool = True,
    ) -> ChatInfo:
        """A person and their private chat with the bot.

        ``started=False`` models someone who never opened the bot: sending to them
        fails with 403 until they send something.
        """
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user = UserInfo(user_id, first_name, last_name, username, language_code, is_premium)
        self.core.users[user_id] = user
        chat = ChatInfo(user_id, PRIVATE, username=username, user=user, started=started)
        return self.core.add_chat(chat)

    def add_group(
        self,
        chat_id: int,
        title: str = "Group",
        *,
        supergroup: bool = False,
        username: str | None = None,
        bot_is_member: bool = True,
    ) -> ChatInfo:
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        kind = SUPERGROUP if supergroup else GROUP
        chat = ChatInfo(chat_id, kind, title=title, username=username, bot_is_member=bot_is_member)
        return self.core.add_chat(chat)

    def add_channel(
        self,
        chat_id: int,
        title: str = "Channel",
        *,
        username: str | None = None,
        bot_is_member: bool = True,
    ) -> ChatInfo:
        if chat_id >= 0:
            raise ValueError("channel ids are negative")
        chat = ChatInfo(chat_id, CHANNEL, title=title, username=username, bot_is_member=bot_is_member)
        return self.core.add_chat(chat)

    def chat(self, chat_id: int) -> ChatInfo:
        chat = self.core.chats.get(chat_id)
        if chat is None:
            raise AssertionError(f"unknown chat {chat_id}: create it with add_user/add_group first")
        return chat

    def set_blocked(self, user_id: int, blocked: bool) -> None:
        chat = self.chat(user_id)
        if chat.type != PRIVATE:
            raise AssertionError("only a private chat's user can block the bot")
        chat.blocked = blocked

    # -- messages ----------------------------------------------------------------------------

    def _sender(self, chat: ChatInfo, from_id: int | None) -> UserInfo | None:
        if chat.type == CHANNEL:
            return None
        if chat.type == PRIVATE:
            if from_id not in (None, chat.id):
                raise AssertionError("only the chat's user writes in a private chat")
            if chat.blocked:
                raise AssertionError(f"user {chat.id} has blocked the bot; unblock them first")
            assert chat.user is not None
            return chat.user
        if from_id is None or from_id not in self.core.users:
            raise AssertionError("a group message needs from_id of a user created with add_user")
        return self.core.users[from_id]

    def message(self, chat_id: int, body: JSONDict, *, from_id: int | None = None) -> JSONDict:
        """An incoming message with content ``body`` (e.g. ``{"text": ...}``); the update."""
        chat = self.chat(chat_id)
        sender = self._sender(chat, from_id)
        if chat.type == PRIVATE:
            chat.started = True
        message_id = chat.allocate_message_id()
        data: JSONDict = {"message_id": message_id}
        if sender is not None:
            data["from"] = sender.to_json()
        else:
            data["sender_chat"] = chat.to_json()
        data.update({"chat": chat.to_json(), "date": int(time.time()), **body})
        chat.messages[message_id] = StoredMessage(chat.id, message_id, False, data)
        self.core.recorder.notify(chat.id)
        key = "channel_post" if chat.type == CHANNEL else "message"
        return self.core.deliver({key: data})

    def text(
        self,
        chat_id: int,
        text: str,
        *,
        from_id: int | None = None,
        entities: list[JSONDict] | None = None,
        reply_to: int | None = None,
    ) -> JSONDict:
        body: JSONDict = {"text": text}
        found = detect_entities(text) if entities is None else entities
        if found:
            body["entities"] = found
        if reply_to is not None:
            target = self.chat(chat_id).messages.get(reply_to)
            if target is None:
                raise AssertionError(f"no message {reply_to} in chat {chat_id} to reply to")
            body["reply_to_message"] = {k: v for k, v in target.data.items() if k != "reply_to_message"}
        return self.message(chat_id, body, from_id=from_id)

    def command(
        self, chat_id: int, command: str, args: str = "", *, from_id: int | None = None,
        mention_bot: bool = False,
    ) -> JSONDict:  # fmt: skip
        name = command.removeprefix("/")
        head = f"/{name}@{self.core.bot.username}" if mention_bot else f"/{name}"
        text = f"{head} {args}" if args else head
        entity = {"type": "bot_command", "offset": 0, "length": utf16_len(head)}
        return self.text(chat_id, text, from_id=from_id, entities=[entity])

    def edit(self, chat_id: int, message_id: int, new_text: str) -> JSONDict:
        """The user edits their own text message: an ``edited_message`` update."""
        chat = self.chat(chat_id)
        stored = chat.messages.get(message_id)
        if stored is None or stored.from_bot or "text" not in stored.data:
            raise AssertionError(f"message {message_id} is not a text message of the user")
        data = {k: v for k, v in stored.data.items() if k != "entities"}
        data.update({"text": new_text, "edit_date": int(time.time())})
        found = detect_entities(new_text)
        if found:
            data["entities"] = found
        stored.history.append(stored.data)
        stored.data = data
        key = "edited_channel_post" if chat.type == CHANNEL else "edited_message"
        return self.core.deliver({key: data})

    def _file(self, prefix: str) -> tuple[str, str]:
        serial = self.core.next_id()
        return f"{prefix}standin{serial:08d}", f"AgADstandin{serial:08d}"

    def sticker(self, chat_id: int, emoji: str = "👍", *, from_id: int | None = None) -> JSONDict:
        file_id, unique = self._file("CAACAgIAAxkB")
        sticker = {
            "file_id": file_id, "file_unique_id": unique, "type": "regular", "width": 512,
            "height": 512, "is_animated": False, "is_video": False, "emoji": emoji,
            "file_size": 20_000,
        }  # fmt: skip
        return self.message(chat_id, {"sticker": sticker}, from_id=from_id)

    def photo(
        self, chat_id: int, caption: str | None = None, *, width: int = 1280, height: int = 960,
        from_id: int | None = None,
    ) -> JSONDict:  # fmt: skip
        sizes = []
        for scale in (90, 320, 800, 1280):
            ratio = min(1.0, scale / max(width, height))
            file_id, unique = self._file("AgACAgIAAxkB")
            sizes.append(
                {"file_id": file_id, "file_unique_id": unique, "file_size": scale * 100,
                 "width": max(1, int(width * ratio)), "height": max(1, int(height * ratio))}
            )  # fmt: skip
        body: JSONDict = {"photo": sizes}
        if caption:
            body["caption"] = caption
        return self.message(chat_id, body, from_id=from_id)

    def voice(self, chat_id: int, duration: int = 3, *, from_id: int | None = None) -> JSONDict:
        file_id, unique = self._file("AwACAgIAAxkB")
        voice = {
            "file_id": file_id, "file_unique_id": unique, "duration": duration,
            "mime_type": "audio/ogg", "file_size": duration * 4000,
        }  # fmt: skip
        return self.message(chat_id, {"voice": voice}, from_id=from_id)

    def document(
        self, chat_id: int, file_name: str = "report.pdf", mime_type: str = "application/pdf",
        *, from_id: int | None = None,
    ) -> JSONDict:  # fmt: skip
        file_id, unique = self._file("BQACAgIAAxkB")
        document = {
            "file_id": file_id, "file_unique_id": unique, "file_name": file_name,
            "mime_type": mime_type, "file_size": 12_345,
        }  # fmt: skip
        return self.message(chat_id, {"document": document}, from_id=from_id)

    def location(
        self, chat_id: int, latitude: float, longitude: float, *, from_id: int | None = None
    ) -> JSONDict:
        location = {"latitude": latitude, "longitude": longitude}
        return self.message(chat_id, {"location": location}, from_id=from_id)

    def raw(self, body: JSONDict) -> JSONDict:
        """Any update body (its ``update_id`` is assigned here)."""
        return self.core.deliver({k: v for k, v in body.items() if k != "update_id"})

    # -- buttons -----------------------------------------------------------------------------

    def press(
        self, chat_id: int, message_id: int, data: str, *, from_id: int | None = None,
        check: bool = True,
    ) -> CallbackQueryRecord:  # fmt: skip
        """Press an inline button; ``check=False`` allows stale or forged presses."""
        chat = self.chat(chat_id)
        user = self._sender(chat, from_id)
        if user is None:
            raise AssertionError("nobody can press buttons in a channel in this stand-in")
        stored = chat.messages.get(message_id)
        if check:
            if stored is None or stored.deleted or not stored.from_bot:
                raise AssertionError(f"no bot message {message_id} in chat {chat_id}")
            if not stored.has_callback_data(data):
                labels = [f"{b['text']!r}={b.get('callback_data')!r}" for b in stored.buttons]
                raise AssertionError(
                    f"message {message_id} has no button with callback_data {data!r}; "
                    f"buttons: {labels or 'none'}"
                )
        if stored is None or stored.deleted:
            message: JSONDict = {"chat": chat.to_json(), "message_id": message_id, "date": 0}
        else:
            message = stored.data
        query_id = str(4_611_686_018_427_387_904 + self.core.next_id())
        record = CallbackQueryRecord(query_id, chat.id, message_id, user.id, data, time.monotonic())
        self.core.queries[query_id] = record
        self.core.recorder.notify(chat.id)
        self.core.deliver(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user.to_json(),
                    "message": message,
                    "chat_instance": str((chat.id * 2_654_435_761) % (1 << 62)),
                    "data": data,
                }
            }
        )
        return record
