"""The pending-updates queue behind getUpdates: offsets, long polling, conflicts."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import Any

from .errors import conflict

JSONDict = dict[str, Any]

UPDATE_TYPES = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post",
        "business_connection", "business_message", "edited_business_message",
        "deleted_business_messages", "message_reaction", "message_reaction_count",
        "inline_query", "chosen_inline_result", "callback_query", "shipping_query",
        "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer", "my_chat_member",
        "chat_member", "chat_join_request", "chat_boost", "removed_chat_boost",
    }
)  # fmt: skip
# An empty allowed_updates list means "all but these" (Bot API docs).
OPT_IN_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
MAX_LONG_POLL = 50.0

TERMINATED = "terminated by other getUpdates request; make sure that only one bot instance is running"
WEBHOOK_ACTIVE = (
    "can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)


def update_type(update: JSONDict) -> str | None:
    for key in update:
        if key != "update_id":
            return key
    return None


class UpdateQueue:
    """Updates not yet confirmed by an ``offset``.

    At most one long poll is active; a newer one makes the older one fail with
    409 Conflict, exactly as Telegram does when two bot instances poll.
    """

    def __init__(self, first_update_id: int = 1) -> None:
        self._pending: deque[JSONDict] = deque()
        self._next_id = first_update_id
        self.allowed: frozenset[str] | None = None
        self.confirmed_offset = 0
        self._poll: asyncio.Future[str | None] | None = None
        self.polls = 0

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    @property
    def last_update_id(self) -> int:
        return self._next_id - 1

    def set_allowed(self, types: Iterable[str] | None) -> None:
        if types is None:
            return
        chosen = frozenset(types) & UPDATE_TYPES
        self.allowed = chosen or None

    def is_allowed(self, update: JSONDict) -> bool:
        kind = update_type(update)
        if kind is None:
            return True
        if self.allowed is None:
            return kind not in OPT_IN_TYPES
        return kind in self.allowed

    def new_update(self, body: JSONDict) -> JSONDict:
        """Give ``body`` the next update_id (ids are never reused)."""
        update = {"update_id": self._next_id, **body}
        self._next_id += 1
        return update

    def push(self, update: JSONDict) -> None:
        self._pending.append(update)
        self._wake(None)

    def take_all(self) -> list[JSONDict]:
        updates = list(self._pending)
        self._pending.clear()
        return updates

    def put_back(self, updates: Iterable[JSONDict]) -> None:
        merged = sorted([*updates, *self._pending], key=lambda u: int(u["update_id"]))
        self._pending = deque(merged)
        if merged:
            self._wake(None)

    def drop_pending(self) -> None:
        self._pending.clear()

    def supersede(self, reason: str) -> None:
        """Make the active long poll (if any) fail with 409 ``reason``."""
        self._wake(reason)

    def release(self) -> None:
        """Make the active long poll return ``[]`` now (server shutdown)."""
        self._wake("")

    def _wake(self, outcome: str | None) -> None:
        if self._poll is not None and not self._poll.done():
            self._poll.set_result(outcome)

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            keep = -offset
            while len(self._pending) > keep:
                self._pending.popleft()
            return
        self.confirmed_offset = max(self.confirmed_offset, offset)
        while self._pending and int(self._pending[0]["update_id"]) < offset:
            self._pending.popleft()

    def _collect(self, limit: int) -> list[JSONDict]:
        result: list[JSONDict] = []
        for update in self._pending:
            if len(result) >= limit:
                break
            result.append(update)
        return result

    async def poll(self, offset: int | None, limit: int, timeout: float) -> list[JSONDict]:
        """One getUpdates call."""
        self.polls += 1
        self.supersede(TERMINATED)
        loop = asyncio.get_running_loop()
        limit = min(max(limit, 1), 100)
        deadline = loop.time() + min(max(timeout, 0.0), MAX_LONG_POLL)
        self._confirm(offset)
        while True:
            batch = self._collect(limit)
            remaining = deadline - loop.time()
            if batch or remaining <= 0:
                return batch
            waiter: asyncio.Future[str | None] = loop.create_future()
            self._poll = waiter
            try:
                outcome = await asyncio.wait_for(asyncio.shield(waiter), remaining)
            except TimeoutError:
                return []
            finally:
                if self._poll is waiter:
                    self._poll = None
            if outcome == "":
                return []
            if outcome is not None:
                raise conflict(outcome)
