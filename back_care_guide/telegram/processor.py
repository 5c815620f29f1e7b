"""Updates from one chat strictly in order, different chats in parallel, red flags first."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from back_care_guide.engine.runtime import KeyedLocks
from back_care_guide.observability.metrics import Metrics

log = logging.getLogger(__name__)

# PTB takes its own semaphore *before* do_process_update, i.e. before a chat's turn: one chat
# forwarding a pile of messages would hold every slot while its updates wait for each other,
# and everybody else (an emergency included) would wait too. So PTB's limit is set out of
# reach, and the real one is taken once it is the chat's turn.
UNBOUNDED = 2**31 - 1


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """PTB runs each update as its own task; this makes a chat's tasks take turns.

    asyncio locks are FIFO, and PTB starts the tasks in the order ``getUpdates`` returned
    them, so two quick presses from one user are handled in the order they were made.
    At most ``max_concurrent_updates`` updates run at once, and waiting for one's own chat
    takes none of those slots.

    An update that ``urgent`` says is a red flag takes no slot at all: during a burst (a
    thousand ``/start`` at once) every slot is busy and the event loop is crowded, and a
    person typing "my leg went numb" must not wait for them. It still waits for its own
    chat's earlier updates, so a chat's order holds.
    """

    def __init__(self, max_concurrent_updates: int,
                 urgent: Callable[[Update], bool] | None = None,
                 metrics: Metrics | None = None) -> None:
        super().__init__(UNBOUNDED)
        if max_concurrent_updates < 1:
            raise ValueError("max_concurrent_updates must be a positive integer")
        self._slots = asyncio.Semaphore(max_concurrent_updates)
        self._chats = KeyedLocks()
        self.urgent = urgent
        self.metrics = metrics or Metrics()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Handle the update in its turn; count it and time it (its wait for its turn included)."""
        started = time.perf_counter()
        try:
            await self._in_turn(update, coroutine)
        finally:
            kind, seconds = update_kind(update), time.perf_counter() - started
            self.metrics.updates.labels(kind).inc()
            self.metrics.update_seconds.labels(kind).observe(seconds)
            log.debug("update handled", extra={"update_kind": kind,
                                               "latency_ms": round(seconds * 1000, 1)})

    async def _in_turn(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            async with self._slots:
                await coroutine
            return
        if self.urgent is not None and isinstance(update, Update) and self.urgent(update):
            async with self._chats.hold(chat.id):
                await coroutine
            return
        async with self._chats.hold(chat.id), self._slots:
            await coroutine

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


def update_kind(update: object) -> str:
    """What an update is, for metrics and logs: command, message (text), media (anything else
    a person sends), edited, callback (a button press), group, or other."""
    if not isinstance(update, Update):
        return "other"
    if update.callback_query is not None:
        return "callback"
    if update.edited_message is not None:
        return "edited"
    message = update.message
    if message is None:
        return "other"  # a channel post, or a kind not subscribed to
    if message.chat.type != message.chat.PRIVATE:
        return "group"
    if message.text is not None:
        return "command" if message.text.startswith("/") else "message"
    return "media"
