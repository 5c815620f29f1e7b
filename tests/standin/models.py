"""The stand-in's world: users, chats, messages and the events the bot caused."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .markup import iter_buttons

JSONDict = dict[str, Any]

PRIVATE, GROUP, SUPERGROUP, CHANNEL = "private", "group", "supergroup", "channel"


@dataclass
class UserInfo:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_premium: bool | None = None
    is_bot: bool = False

    def to_json(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code", "is_premium"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


@dataclass
class StoredMessage:
    """A message as it currently is; ``data`` is the Bot API Message object."""

    chat_id: int
    message_id: int
    from_bot: bool
    data: JSONDict
    deleted: bool = False
    history: list[JSONDict] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The text, or the caption of a media message ("" if neither)."""
        return str(self.data.get("text", self.data.get("caption", "")))

    @property
    def entities(self) -> list[JSONDict]:
        found = self.data.get("entities", self.data.get("caption_entities"))
        return list(found) if isinstance(found, list) else []

    @property
    def reply_markup(self) -> JSONDict | None:
        markup = self.data.get("reply_markup")
        return markup if isinstance(markup, dict) else None

    @property
    def buttons(self) -> list[JSONDict]:
        return iter_buttons(self.reply_markup)

    def button_labels(self) -> list[str]:
        return [str(button["text"]) for button in self.buttons]

    def find_button(self, label: str) -> JSONDict | None:
        """The first button whose text contains ``label`` (exact matches win)."""
        buttons = self.buttons
        for button in buttons:
            if button["text"] == label:
                return button
        for button in buttons:
            if label in str(button["text"]):
                return button
        return None

    def has_callback_data(self, data: str) -> bool:
        return any(button.get("callback_data") == data for button in self.buttons)


@dataclass(frozen=True)
class Event:
    """One visible effect of a bot call, with a ``time.monotonic()`` timestamp."""

    seq: int
    time: float
    chat_id: int
    kind: str  # message | photo | document | edit | markup | delete | callback_answer | chat_action
    method: str
    message_id: int | None
    data: JSONDict
    silent: bool = False


@dataclass
class CallbackQueryRecord:
    id: str
    chat_id: int
    message_id: int
    user_id: int
    data: str
    created: float
    answered: bool = False
    answer_text: str | None = None
    show_alert: bool = False
    answer_url: str | None = None


@dataclass
class ChatInfo:
    id: int
    type: str
    title: str | None = None
    username: str | None = None
    user: UserInfo | None = None
    blocked: bool = False
    started: bool = True
    bot_is_member: bool = True
    next_message_id: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    callback_answers: list[CallbackQueryRecord] = field(default_factory=list)

    def allocate_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id

    def to_json(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "type": self.type}
        if self.user is not None:
            data["first_name"] = self.user.first_name
            if self.user.last_name:
                data["last_name"] = self.user.last_name
            if self.user.username:
                data["username"] = self.user.username
        else:
            data["title"] = self.title or ""
            if self.username:
                data["username"] = self.username
        return data

    def full_info(self) -> JSONDict:
        """A ChatFullInfo object (getChat)."""
        data = self.to_json()
        data.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        return data

    def bot_messages(self) -> list[StoredMessage]:
        return [m for m in self.messages.values() if m.from_bot and not m.deleted]
