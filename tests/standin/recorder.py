"""Ordered record of what the bot did, and bounded waiting on it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from .models import ChatInfo, Event

JSONDict = dict[str, Any]
_ANY_CHAT = 0  # waiters keyed here wake up on every change


class WaitTimeout(AssertionError):
    """A bounded wait ran out; the message says what was seen instead."""


class Recorder:
    """Events per chat and globally; futures keyed by chat id wake waiting tests.

    Waking is O(waiters of that chat), so thousands of chats cost nothing extra.
    """

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.last_activity = time.monotonic()
        self._seq = 0
        self._waiters: dict[int, set[asyncio.Future[None]]] = {}

    def record(
        self,
        chat: ChatInfo,
        kind: str,
        method: str,
        message_id: int | None,
        data: JSONDict,
        silent: bool = False,
    ) -> Event:
        self._seq += 1
        event = Event(self._seq, time.monotonic(), chat.id, kind, method, message_id, data, silent)
        chat.events.append(event)
        self.events.append(event)
        self.notify(chat.id)
        return event

    def touch(self) -> None:
        """Note activity (a bot call or an injected update) for :meth:`wait_quiet`."""
        self.last_activity = time.monotonic()

    def notify(self, chat_id: int) -> None:
        self.touch()
        for key in (chat_id, _ANY_CHAT):
            waiters = self._waiters.get(key)
            if not waiters:
                continue
            for future in waiters:
                if not future.done():
                    future.set_result(None)

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float,
        chat_id: int | None = None,
        describe: Callable[[], str] | None = None,
        recheck: float = 0.05,
    ) -> None:
        """Return once ``predicate()`` holds; raise :class:`WaitTimeout` after ``timeout`` s.

        Waiters wake on every change of their chat and re-check every ``recheck``
        seconds anyway, for conditions on state that does not notify (webhooks, offsets).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        key = _ANY_CHAT if chat_id is None else chat_id
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                detail = f": {describe()}" if describe is not None else ""
                raise WaitTimeout(f"condition not met within {timeout:g}s{detail}")
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.setdefault(key, set()).add(future)
            try:
                await asyncio.wait_for(future, min(remaining, recheck))
            except TimeoutError:
                pass
            finally:
                waiters = self._waiters.get(key)
                if waiters is not None:
                    waiters.discard(future)
                    if not waiters:
                        del self._waiters[key]

    async def wait_quiet(self, quiet_for: float = 0.3, timeout: float = 10.0) -> None:
        """Return once nothing happened for ``quiet_for`` seconds (bounded by ``timeout``)."""
        start = time.monotonic()
        while True:
            now = time.monotonic()
            idle = now - self.last_activity
            if idle >= quiet_for:
                return
            if now - start >= timeout:
                raise WaitTimeout(f"the bot was still active after {timeout:g}s")
            await asyncio.sleep(min(quiet_for - idle, timeout - (now - start)) + 0.001)
