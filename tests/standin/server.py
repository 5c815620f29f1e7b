"""``BotApiStandin``: a strict local Telegram Bot API for tests and benchmarks.

Runs inside the caller's event loop (``async with BotApiStandin() as api``) on
127.0.0.1; ``api.base_url`` is what python-telegram-bot takes as ``base_url``.
Tests create users, inject their actions as updates, and inspect/await what the
bot did.  Everything is keyed by chat id, so 10,000 users cost O(1) per call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from .control import ControlApi
from .core import StandinCore
from .errors import ApiError
from .faults import FloodControl
from .http_api import MAX_BODY, BotApiHttp, error_reply
from .injector import UserSide
from .models import CallbackQueryRecord, ChatInfo, Event, StoredMessage
from .recorder import WaitTimeout
from .transcript import Transcript, build_transcript
from .webhook import DeliveryAttempt, post_update

if TYPE_CHECKING:
    from .client import TestUser

JSONDict = dict[str, Any]
DEFAULT_TOKEN = "123456:TEST-token"


class BotApiStandin:
    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "back_care_test_bot",
        bot_name: str = "Back Care Guide",
        port: int = 0,
        callback_query_ttl: float | None = 15.0,
        first_update_id: int = 1,
        webhook_max_attempts: int = 3,
        webhook_retry_delay: float = 0.1,
        enable_control: bool = True,
    ) -> None:
        self.core = StandinCore(
            token, bot_username, bot_name, callback_query_ttl, first_update_id,
            webhook_max_attempts, webhook_retry_delay,
        )  # fmt: skip
        self.people = UserSide(self.core)
        self._http = BotApiHttp(self.core)
        self._control = ControlApi(self) if enable_control else None
        self._requested_port = port
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY)
        app.add_routes(self._http.routes())
        if self._control is not None:
            app.add_routes(self._control.routes())
        app.add_routes([web.route("*", "/{tail:.*}", self._not_found)])
        self.core.session = aiohttp.ClientSession()
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._requested_port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        self.core.updates.release()
        if self.core.webhook is not None:
            await self.core.webhook.close()
            self.core.webhook = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.core.session is not None:
            await self.core.session.close()
            self.core.session = None

    async def __aenter__(self) -> BotApiStandin:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @staticmethod
    async def _not_found(request: web.Request) -> web.StreamResponse:
        return error_reply(ApiError(404, "Not Found"))

    @property
    def token(self) -> str:
        return self.core.token

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """PTB's ``base_url``; requests go to ``{base_url}{token}/{method}``."""
        return f"{self.root_url}/bot"

    @property
    def bot_user(self) -> JSONDict:
        return self.core.bot_json()

    # -- people ------------------------------------------------------------------------------

    def user(self, user_id: int, first_name: str = "User", **kwargs: Any) -> TestUser:
        """A :class:`TestUser` driving ``user_id`` (created on first use)."""
        from .client import TestUser

        if user_id not in self.core.chats:
            self.people.add_user(user_id, first_name, **kwargs)
        return TestUser(self, user_id)

    def add_user(self, user_id: int, first_name: str = "User", **kwargs: Any) -> ChatInfo:
        return self.people.add_user(user_id, first_name, **kwargs)

    def add_group(self, chat_id: int, title: str = "Group", **kwargs: Any) -> ChatInfo:
        return self.people.add_group(chat_id, title, **kwargs)

    def add_channel(self, chat_id: int, title: str = "Channel", **kwargs: Any) -> ChatInfo:
        return self.people.add_channel(chat_id, title, **kwargs)

    def block(self, user_id: int) -> None:
        """The user blocks the bot: sends and edits to them get 403."""
        self.people.set_blocked(user_id, True)

    def unblock(self, user_id: int) -> None:
        self.people.set_blocked(user_id, False)

    # -- injecting updates (each returns the update as queued) -------------------------------

    def send_text(self, chat_id: int, text: str, **kwargs: Any) -> JSONDict:
        """A text message (``from_id=`` for groups, ``entities=``, ``reply_to=``)."""
        return self.people.text(chat_id, text, **kwargs)

    def send_command(self, chat_id: int, command: str, args: str = "", **kwargs: Any) -> JSONDict:
        """``/command args`` with a ``bot_command`` entity at offset 0."""
        return self.people.command(chat_id, command, args, **kwargs)

    def edit_user_message(self, chat_id: int, message_id: int, text: str) -> JSONDict:
        return self.people.edit(chat_id, message_id, text)

    def send_sticker(self, chat_id: int, emoji: str = "👍", **kwargs: Any) -> JSONDict:
        return self.people.sticker(chat_id, emoji, **kwargs)

    def send_photo(self, chat_id: int, caption: str | None = None, **kwargs: Any) -> JSONDict:
        return self.people.photo(chat_id, caption, **kwargs)

    def send_voice(self, chat_id: int, duration: int = 3, **kwargs: Any) -> JSONDict:
        return self.people.voice(chat_id, duration, **kwargs)

    def send_document(self, chat_id: int, file_name: str = "report.pdf", **kwargs: Any) -> JSONDict:
        return self.people.document(chat_id, file_name, **kwargs)

    def send_location(self, chat_id: int, latitude: float, longitude: float, **kwargs: Any) -> JSONDict:
        return self.people.location(chat_id, latitude, longitude, **kwargs)

    def send_channel_post(self, chat_id: int, text: str) -> JSONDict:
        return self.people.text(chat_id, text)

    def push_update(self, body: JSONDict) -> JSONDict:
        """Any (even nonsensical) update body; gets the next ``update_id``."""
        return self.people.raw(body)

    def press_button(
        self, chat_id: int, message_id: int, data: str, *, from_id: int | None = None
    ) -> CallbackQueryRecord:
        """Press a button that exists on the bot message right now."""
        return self.people.press(chat_id, message_id, data, from_id=from_id)

    def press_button_raw(
        self, chat_id: int, message_id: int, data: str, *, from_id: int | None = None
    ) -> CallbackQueryRecord:
        """Press without checking: stale keyboards, deleted messages, forged data."""
        return self.people.press(chat_id, message_id, data, from_id=from_id, check=False)

    def find_button(self, chat_id: int, label: str) -> tuple[StoredMessage, JSONDict]:
        """The newest bot message whose keyboard has a button containing ``label``."""
        chat = self.chat(chat_id)
        available: list[str] = []
        for message in sorted(chat.bot_messages(), key=lambda m: -m.message_id):
            button = message.find_button(label)
            if button is not None:
                return message, button
            available.extend(f"#{message.message_id} {text!r}" for text in message.button_labels())
        raise AssertionError(
            f"no button containing {label!r} in chat {chat_id}; available: {available or 'none'}"
        )

    # -- inspecting --------------------------------------------------------------------------

    def chat(self, chat_id: int) -> ChatInfo:
        return self.people.chat(chat_id)

    def message(self, chat_id: int, message_id: int) -> StoredMessage:
        stored = self.chat(chat_id).messages.get(message_id)
        if stored is None:
            raise AssertionError(f"no message {message_id} in chat {chat_id}")
        return stored

    def messages(self, chat_id: int, *, include_user: bool = False) -> list[StoredMessage]:
        """Visible messages in order (bot messages only unless ``include_user``)."""
        chat = self.chat(chat_id)
        return [
            m
            for m in sorted(chat.messages.values(), key=lambda m: m.message_id)
            if not m.deleted and (include_user or m.from_bot)
        ]

    def sent_messages(self, chat_id: int) -> list[StoredMessage]:
        """Every message the bot ever sent to the chat, deleted ones included."""
        chat = self.chat(chat_id)
        return sorted((m for m in chat.messages.values() if m.from_bot), key=lambda m: m.message_id)

    def file_bytes(self, file_id: str) -> bytes:
        """What the bot uploaded as ``file_id`` (a document, or a size of a photo)."""
        data = self.core.files.get(file_id)
        if data is None:
            raise AssertionError(f"no uploaded file {file_id!r}")
        return data

    def events(self, chat_id: int | None = None) -> list[Event]:
        """Recorded bot activity, globally or for one chat, in order."""
        return list(self.core.recorder.events if chat_id is None else self.chat(chat_id).events)

    def callback_answers(self, chat_id: int) -> list[CallbackQueryRecord]:
        return list(self.chat(chat_id).callback_answers)

    def transcript(self, chat_id: int) -> Transcript:
        return build_transcript(self.chat(chat_id))

    @property
    def calls(self) -> dict[str, int]:
        """How often each method was called (lower-cased names)."""
        return dict(self.core.calls)

    @property
    def unimplemented_calls(self) -> list[str]:
        return list(self.core.unimplemented)

    @property
    def internal_errors(self) -> list[BaseException]:
        return list(self._http.internal_errors)

    @property
    def pending_update_count(self) -> int:
        return self.core.updates.pending_count

    @property
    def confirmed_offset(self) -> int:
        return self.core.updates.confirmed_offset

    def stats(self) -> JSONDict:
        flood = self.core.faults.flood
        return {
            "calls": self.calls,
            "chats": len(self.core.chats),
            "events": len(self.core.recorder.events),
            "pending_updates": self.pending_update_count,
            "last_update_id": self.core.updates.last_update_id,
            "injected_429": self.core.faults.injected_429,
            "injected_5xx": self.core.faults.injected_5xx,
            "flood_429": flood.rejected if flood is not None else 0,
            "unimplemented": self.unimplemented_calls,
            "internal_errors": len(self._http.internal_errors),
        }

    # -- waiting (always bounded) ------------------------------------------------------------

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,
        chat_id: int | None = None,
    ) -> None:
        await self.core.recorder.wait_until(predicate, timeout, chat_id)

    async def wait_for_messages(self, chat_id: int, count: int, timeout: float = 5.0) -> list[StoredMessage]:
        """Wait until the bot has sent ``count`` messages to the chat (deleted ones count)."""
        await self.core.recorder.wait_until(
            lambda: len(self.sent_messages(chat_id)) >= count,
            timeout,
            chat_id,
            lambda: (
                f"chat {chat_id} has {len(self.sent_messages(chat_id))} of {count} "
                f"messages\n{self.transcript(chat_id).render()}"
            ),
            recheck=0.5,  # woken by every bot message anyway
        )
        return self.sent_messages(chat_id)

    async def wait_for_message(
        self,
        chat_id: int,
        match: str | Callable[[StoredMessage], bool],
        timeout: float = 5.0,
    ) -> StoredMessage:
        """Wait for a visible bot message containing ``match`` (or satisfying it)."""

        def test(message: StoredMessage) -> bool:
            return match in message.text if isinstance(match, str) else match(message)

        found: list[StoredMessage] = []

        def ready() -> bool:
            found[:] = [m for m in self.messages(chat_id) if test(m)]
            return bool(found)

        await self.core.recorder.wait_until(
            ready, timeout, chat_id, lambda: self.transcript(chat_id).render(), recheck=0.5
        )
        return found[-1]

    async def wait_for_event(
        self,
        chat_id: int,
        predicate: Callable[[Event], bool],
        timeout: float = 5.0,
    ) -> Event:
        found: list[Event] = []

        def ready() -> bool:
            found[:] = [e for e in self.chat(chat_id).events if predicate(e)]
            return bool(found)

        await self.core.recorder.wait_until(ready, timeout, chat_id)
        return found[-1]

    async def wait_quiet(self, quiet_for: float = 0.3, timeout: float = 10.0) -> None:
        """Wait until no bot call (polling aside) and no injected update for ``quiet_for`` s."""
        await self.core.recorder.wait_quiet(quiet_for, timeout)

    async def wait_updates_consumed(self, timeout: float = 5.0) -> None:
        """Wait until the bot confirmed every queued update (polling mode)."""

        def done() -> bool:
            return self.core.updates.pending_count == 0 and (
                self.core.updates.confirmed_offset > self.core.updates.last_update_id
            )

        await self.core.recorder.wait_until(done, timeout)

    # -- faults ------------------------------------------------------------------------------

    def fail_every(self, method: str, n: int, retry_after: int = 1) -> None:
        """Every ``n``-th call of ``method`` answers 429 ``retry after`` and does nothing."""
        self.core.faults.fail_every(method, n, retry_after)

    def fail_next(self, count: int, status: int = 500, methods: Iterable[str] | None = None) -> None:
        """The next ``count`` calls answer ``status`` (500 JSON, 502/503/504 nginx HTML)."""
        self.core.faults.fail_next(count, status, methods)

    def set_latency(self, seconds: float, methods: Iterable[str] | None = None) -> None:
        self.core.faults.set_latency(seconds, methods)

    def redirect_loop(self, methods: Iterable[str] | None = None) -> None:
        """Answer calls of ``methods`` (or every call) with a 302 to the same URL."""
        self.core.faults.redirect_loop(methods)

    @property
    def injected_redirect_count(self) -> int:
        return self.core.faults.injected_redirects

    def enable_flood_control(self, **limits: Any) -> FloodControl:
        """Telegram-like flood limits; keyword arguments override :class:`FloodControl` fields."""
        return self.core.faults.enable_flood_control(FloodControl(**limits))

    def disable_flood_control(self) -> None:
        self.core.faults.disable_flood_control()

    def clear_faults(self) -> None:
        self.core.faults.clear()

    @property
    def flood_429_count(self) -> int:
        flood = self.core.faults.flood
        return 0 if flood is None else flood.rejected

    @property
    def injected_429_count(self) -> int:
        return self.core.faults.injected_429

    # -- webhook -----------------------------------------------------------------------------

    @property
    def webhook_attempts(self) -> list[DeliveryAttempt]:
        return [] if self.core.webhook is None else list(self.core.webhook.attempts)

    async def wait_webhook_attempts(self, count: int, timeout: float = 5.0) -> list[DeliveryAttempt]:
        await self.core.recorder.wait_until(
            lambda: len(self.webhook_attempts) >= count, timeout,
            describe=lambda: f"{len(self.webhook_attempts)} of {count} attempts",
        )  # fmt: skip
        return self.webhook_attempts

    async def post_update(
        self,
        url: str,
        update: JSONDict,
        secret: str | None = None,
        timeout: float = 5.0,
    ) -> int:
        """POST ``update`` to ``url`` like Telegram (any secret) and return the HTTP status."""
        assert self.core.session is not None, "the stand-in is not running"
        return await post_update(self.core.session, url, update, secret, timeout)


__all__ = ["DEFAULT_TOKEN", "BotApiStandin", "WaitTimeout"]
