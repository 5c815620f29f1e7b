"""Shared state of one stand-in: the world model plus the helpers every method needs."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import aiohttp

from .errors import ApiError, bad_request, forbidden
from .faults import FaultInjector
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
from .recorder import Recorder
from .updates import UpdateQueue
from .webhook import WebhookDelivery

JSONDict = dict[str, Any]


@dataclass(frozen=True)
class Described:
    """A successful result that also carries Telegram's ``description`` field."""

    result: Any
    description: str


@dataclass
class WebhookSettings:
    url: str
    secret: str | None
    max_connections: int
    allowed_updates: list[str] | None
    ip_address: str | None


class StandinCore:
    def __init__(
        self,
        token: str,
        bot_username: str,
        bot_name: str,
        callback_query_ttl: float | None,
        first_update_id: int,
        webhook_max_attempts: int,
        webhook_retry_delay: float,
    ) -> None:
        bot_id, sep, _secret = token.partition(":")
        if not sep or not bot_id.isdigit():
            raise ValueError("token must look like '<bot id>:<secret>'")
        self.token = token
        self.bot = UserInfo(int(bot_id), bot_name, username=bot_username, is_bot=True)
        self.callback_query_ttl = callback_query_ttl
        self.webhook_max_attempts = webhook_max_attempts
        self.webhook_retry_delay = webhook_retry_delay
        self.users: dict[int, UserInfo] = {}
        self.chats: dict[int, ChatInfo] = {}
        self.usernames: dict[str, int] = {}
        self.queries: dict[str, CallbackQueryRecord] = {}
        self.updates = UpdateQueue(first_update_id)
        self.recorder = Recorder()
        self.faults = FaultInjector()
        self.calls: Counter[str] = Counter()
        self.unimplemented: list[str] = []
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.menu_buttons: dict[int | None, JSONDict] = {}
        self.bot_texts: dict[tuple[str, str], str] = {}
        self.files: dict[str, bytes] = {}
        self.photos: dict[str, list[JSONDict]] = {}
        self.documents: dict[str, JSONDict] = {}
        self.webhook: WebhookDelivery | None = None
        self.webhook_settings: WebhookSettings | None = None
        self.session: aiohttp.ClientSession | None = None
        self._ids = itertools.count(1)

    # -- identities -----------------------------------------------------------------------

    def next_id(self) -> int:
        return next(self._ids)

    def bot_json(self) -> JSONDict:
        data = self.bot.to_json()
        data.update(
            {
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
                "can_connect_to_business": False,
                "has_main_web_app": False,
            }
        )
        return data

    def lookup_user(self, user_id: int) -> JSONDict | None:
        user = self.users.get(user_id)
        return None if user is None else user.to_json()

    def add_chat(self, chat: ChatInfo) -> ChatInfo:
        if chat.id in self.chats:
            raise ValueError(f"chat {chat.id} already exists")
        self.chats[chat.id] = chat
        if chat.username:
            self.usernames[chat.username.lower()] = chat.id
        return chat

    # -- chat resolution --------------------------------------------------------------------

    def resolve_chat(self, ref: int | str) -> ChatInfo:
        """A chat by id, numeric string or ``@username``; else 400 chat not found."""
        if isinstance(ref, bool) or not isinstance(ref, int | str):  # from a JSON object
            raise bad_request("chat not found")
        if isinstance(ref, str) and not ref.startswith("@"):
            ref = int(ref) if ref.lstrip("-").isdigit() else "@"
        chat_id = self.usernames.get(ref[1:].lower()) if isinstance(ref, str) else ref
        chat = self.chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def writable_chat(self, ref: int | str) -> ChatInfo:
        """The chat for a send/edit call, or the 403 Telegram answers for it."""
        chat = self.resolve_chat(ref)
        if chat.type == PRIVATE:
            if chat.blocked:
                raise forbidden("bot was blocked by the user")
            if not chat.started:
                raise forbidden("bot can't initiate conversation with a user")
        elif not chat.bot_is_member:
            kind = {GROUP: "group", SUPERGROUP: "supergroup", CHANNEL: "channel"}[chat.type]
            raise forbidden(f"bot is not a member of the {kind} chat")
        return chat

    @staticmethod
    def live_message(chat: ChatInfo, message_id: int, missing: str) -> StoredMessage:
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            raise bad_request(missing)
        return message

    # -- effects ----------------------------------------------------------------------------

    def check_flood(self, method: str, chat: ChatInfo) -> None:
        flood = self.faults.flood
        if flood is not None and flood.counts(method):
            flood.acquire(chat.id, chat.type in {GROUP, SUPERGROUP})

    def new_bot_message(
        self, chat: ChatInfo, method: str, kind: str, body: JSONDict, silent: bool
    ) -> StoredMessage:
        """Store a message the bot sent (all validation must be done by now)."""
        self.check_flood(method.lower(), chat)
        message_id = chat.allocate_message_id()
        data: JSONDict = {"message_id": message_id}
        if chat.type == CHANNEL:
            data["sender_chat"] = chat.to_json()
        else:
            data["from"] = self.bot.to_json()
        data.update({"chat": chat.to_json(), "date": int(time.time()), **body})
        message = StoredMessage(chat.id, message_id, True, data)
        chat.messages[message_id] = message
        self.recorder.record(chat, kind, method, message_id, data, silent)
        return message

    def edit_bot_message(
        self, chat: ChatInfo, message: StoredMessage, method: str, kind: str, changes: JSONDict
    ) -> StoredMessage:
        """Replace fields of a message; ``None`` values remove the field."""
        self.check_flood(method.lower(), chat)
        data = {k: v for k, v in message.data.items() if k not in changes}
        data.update({k: v for k, v in changes.items() if v is not None})
        data["edit_date"] = int(time.time())
        message.history.append(message.data)
        message.data = data
        self.recorder.record(chat, kind, method, message.message_id, data)
        return message

    def deliver(self, body: JSONDict) -> JSONDict:
        """Give an update its id and hand it to the webhook or the getUpdates queue."""
        update = self.updates.new_update(body)
        self.recorder.touch()
        if not self.updates.is_allowed(update):
            return update
        if self.webhook is not None:
            self.webhook.enqueue(update)
        else:
            self.updates.push(update)
        return update

    def not_implemented(self, method: str) -> ApiError:
        self.unimplemented.append(method)
        return ApiError(404, "Not Found")
