"""Updates from one chat strictly in order, different chats in parallel."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.engine.runtime import KeyedLocks


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """PTB runs each update as its own task; this makes a chat's tasks take turns.

    asyncio locks are FIFO, and PTB starts the tasks in the order ``getUpdates`` returned
    them, so two quick presses from one user are handled in the order they were made.
    """

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._chats = KeyedLocks()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        async with self._chats.hold(chat.id):
            await coroutine

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""
