"""``TestUser``: drive one private-chat user of the stand-in, aiogram-dialog test_tools style."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .models import CallbackQueryRecord, ChatInfo, StoredMessage
from .transcript import Transcript

if TYPE_CHECKING:
    from .server import BotApiStandin

JSONDict = dict[str, Any]


class TestUser:
    """A person talking to the bot in their private chat (``chat_id == user id``)."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, api: BotApiStandin, user_id: int) -> None:
        self.api = api
        self.id = user_id

    @property
    def chat_id(self) -> int:
        return self.id

    @property
    def chat(self) -> ChatInfo:
        return self.api.chat(self.id)

    @property
    def first_name(self) -> str:
        user = self.chat.user
        assert user is not None
        return user.first_name

    # -- acting ------------------------------------------------------------------------------

    async def send(self, text: str, **kwargs: Any) -> JSONDict:
        """Send a text message; returns the update."""
        return self.api.send_text(self.id, text, **kwargs)

    async def command(self, name: str, args: str = "") -> JSONDict:
        """Send ``/name args`` with a ``bot_command`` entity."""
        return self.api.send_command(self.id, name, args)

    async def click(self, label: str) -> CallbackQueryRecord:
        """Press the button containing ``label`` on the newest bot message that has one."""
        message, button = self.api.find_button(self.id, label)
        data = button.get("callback_data")
        if not isinstance(data, str):
            raise AssertionError(f"button {button['text']!r} is not a callback button: {button}")
        return self.api.press_button(self.id, message.message_id, data)

    async def click_data(self, message_id: int, data: str) -> CallbackQueryRecord:
        """Press the button with ``data`` on message ``message_id`` (it must exist)."""
        return self.api.press_button(self.id, message_id, data)

    async def click_stale(self, message_id: int, data: str) -> CallbackQueryRecord:
        """Press regardless of the message's current keyboard (stale-press tests)."""
        return self.api.press_button_raw(self.id, message_id, data)

    def block(self) -> None:
        self.api.block(self.id)

    def unblock(self) -> None:
        self.api.unblock(self.id)

    # -- looking -----------------------------------------------------------------------------

    @property
    def messages(self) -> list[StoredMessage]:
        """The bot's visible messages in this chat, oldest first, in their current state."""
        return self.api.messages(self.id)

    @property
    def last_message(self) -> StoredMessage | None:
        messages = self.messages
        return messages[-1] if messages else None

    @property
    def last_text(self) -> str | None:
        last = self.last_message
        return None if last is None else last.text

    @property
    def toasts(self) -> list[CallbackQueryRecord]:
        """Answered callback queries of this user, in answer order (``answer_text``...)."""
        return self.api.callback_answers(self.id)

    def transcript(self) -> Transcript:
        return self.api.transcript(self.id)

    # -- waiting -----------------------------------------------------------------------------

    async def wait_for_text(self, substring: str, timeout: float = 5.0) -> StoredMessage:
        return await self.api.wait_for_message(self.id, substring, timeout)

    async def wait_for(
        self,
        predicate: Callable[[StoredMessage], bool],
        timeout: float = 5.0,
    ) -> StoredMessage:
        return await self.api.wait_for_message(self.id, predicate, timeout)

    async def wait_for_messages(self, count: int, timeout: float = 5.0) -> list[StoredMessage]:
        """Wait until the bot has sent ``count`` messages here in total."""
        return await self.api.wait_for_messages(self.id, count, timeout)

    async def wait_for_answer(self, query: CallbackQueryRecord, timeout: float = 5.0) -> CallbackQueryRecord:
        """Wait until the bot answered the press ``query`` (see ``answer_text``)."""
        await self.api.wait_until(lambda: query.answered, timeout, self.id)
        return query
