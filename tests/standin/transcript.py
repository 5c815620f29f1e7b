"""What a user would see in a chat: current messages plus the ordered bot activity."""

from __future__ import annotations

from dataclasses import dataclass

from .models import ChatInfo, Event, StoredMessage

_NOTIFYING = frozenset({"message", "photo", "document"})


@dataclass(frozen=True)
class TranscriptMessage:
    message_id: int
    from_bot: bool
    text: str
    buttons: tuple[tuple[str, ...], ...]
    edited: bool
    kind: str  # text, photo, sticker, voice, document, location, other

    def render(self) -> str:
        who = "bot" if self.from_bot else "user"
        flag = " (edited)" if self.edited else ""
        body = self.text if self.kind == "text" else f"[{self.kind}] {self.text}".rstrip()
        lines = [f"#{self.message_id} {who}{flag}: {body}"]
        lines.extend("    " + " | ".join(f"[{label}]" for label in row) for row in self.buttons)
        return "\n".join(lines)


def _kind(message: StoredMessage) -> str:
    for kind in ("text", "photo", "sticker", "voice", "document", "location"):
        if kind in message.data:
            return kind
    return "other"


def _entry(message: StoredMessage) -> TranscriptMessage:
    markup = message.reply_markup or {}
    rows = tuple(tuple(str(button["text"]) for button in row) for row in markup.get("inline_keyboard", []))
    return TranscriptMessage(
        message.message_id, message.from_bot, message.text, rows, bool(message.history),
        _kind(message),
    )  # fmt: skip


@dataclass(frozen=True)
class Transcript:
    chat_id: int
    messages: tuple[TranscriptMessage, ...]
    events: tuple[Event, ...]

    @property
    def bot_texts(self) -> list[str]:
        return [m.text for m in self.messages if m.from_bot]

    @property
    def notifications(self) -> list[Event]:
        """Events that pop up on the user's device: audible messages and callback toasts."""
        return [
            e
            for e in self.events
            if (e.kind in _NOTIFYING and not e.silent) or (e.kind == "callback_answer" and e.data.get("text"))
        ]

    def render(self) -> str:
        lines = [f"chat {self.chat_id}:"]
        lines.extend(m.render() for m in self.messages)
        for event in self.notifications:
            if event.kind == "callback_answer":
                style = "alert" if event.data.get("show_alert") else "toast"
                lines.append(f"  {style}: {event.data.get('text')}")
        return "\n".join(lines)


def build_transcript(chat: ChatInfo) -> Transcript:
    visible = sorted((m for m in chat.messages.values() if not m.deleted), key=lambda m: m.message_id)
    return Transcript(chat.id, tuple(_entry(m) for m in visible), tuple(chat.events))
