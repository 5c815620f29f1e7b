"""Delivering due reminders: read what is due, then claim each one right before sending it.

**Delivery is at-most-once, and a crash loses only what is in flight.** Each round reads
what is due without claiming anything (``due`` of the
:class:`~back_care_guide.store.repositories.ReminderRepository`). A worker claims ONE
reminder (``claim``: a short transaction that advances the row to its next occurrence, if
it is still due as read) only when it is its turn to send, after every wait
below, and then calls ``send``. So:

* in normal operation nothing is sent twice: a claimed row is advanced before its send, and
  a restart or a second round can never claim that occurrence again;
* the true bound on loss: a crash (SIGKILL, power cut) loses at most the reminders that were
  claimed and whose ``send`` had not returned, which is at most one per worker, so at most
  ``concurrency`` (8 by default). In practice it is the one or two whose request is on the
  wire (the rate spaces claims ``1/rate_per_second`` apart: 40 ms at 25/s), plus any being
  retried after a FloodWait. Everything not yet claimed is still due after a restart and is
  sent then (unless it has become later than ``late_limit`` by then);
* a send that fails with anything but :class:`FloodWait` also loses that one occurrence.

The trade-off, chosen deliberately: at-least-once (advance the row only after the send
returns) would instead send the in-flight ones twice after a crash, and Telegram has no
idempotency key to deduplicate a ``sendMessage``. For a stretching nudge a rare missed one is
the lesser evil than a duplicate, and claiming just before sending keeps the miss to the
in-flight few (claiming a whole batch up front once lost 37 of 50 to a SIGKILL).

Sending is under four limits:

* overall: at most ``rate_per_second`` attempts, evenly spaced (an :class:`aiolimiter.AsyncLimiter`
  with a bucket of one, so there is no burst either; it runs on the event loop's monotonic
  clock because it protects Telegram's real-time limit);
* per chat: at most one attempt per ``per_chat_interval`` seconds (measured with ``clock``,
  waited with ``sleep``);
* room left by conversations: ``before_send``, if given, is awaited before every attempt
  (the runtime's :class:`~back_care_guide.engine.budget.SendBudget`, so replies come first);
* flood control: when ``send`` raises :class:`FloodWait`, ALL sending pauses for
  ``retry_after`` seconds and the same (already claimed) reminder is tried again (Telegram
  did not deliver it, so the retry can neither lose nor duplicate it).

A reminder later than ``late_limit`` (an hour by default) when it is read, or when its turn
comes, is claimed (advanced) without being sent. A user's reminders are sent one after
another; different users are served by up to ``concurrency`` workers. ``clock`` returns
epoch seconds (``time.time``); ``sleep`` is ``asyncio.sleep`` unless a test injects a fake one.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiolimiter import AsyncLimiter

from back_care_guide.store.base import Store
from back_care_guide.store.records import Due
from back_care_guide.waiting import sleep_until_set

__all__ = ["DispatchStats", "FloodWait", "ReminderDispatcher", "ReminderQueue", "SendResult",
           "StoredReminders"]

log = logging.getLogger(__name__)


class SendResult(enum.Enum):
    SENT = "sent"
    SKIPPED = "skipped"  # deliberately not sent (e.g. the user is locked)
    GONE = "gone"  # the user blocked the bot: their reminders get paused


class FloodWait(Exception):
    """Raised by the send callback when Telegram asks to wait (``RetryAfter``)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(retry_after)
        self.retry_after = max(0.0, float(retry_after))


@dataclass(slots=True)
class DispatchStats:
    sent: int = 0
    skipped: int = 0
    gone: int = 0  # not delivered because the user blocked the bot (GONE, and the rest of that batch)
    too_late: int = 0  # later than late_limit: advanced by the claim, not sent
    flood_waits: int = 0  # FloodWait pauses (each one followed by a retry)
    failed: int = 0  # send raised something else: that occurrence is lost (at-most-once)
    stale: int = 0  # changed, paused or deleted between reading and its turn: not claimed

    def total(self) -> int:
        return self.sent + self.skipped + self.gone + self.too_late + self.failed + self.stale


class ReminderQueue(Protocol):
    """What the dispatcher needs from the store (:class:`StoredReminders`, or a stand-in)."""

    async def due(self, now: float, limit: int) -> list[Due]: ...

    async def claim(self, dues: Sequence[Due], now: float) -> list[Due]: ...

    async def set_active_for_user(self, user_id: int, active: bool, now: float) -> int: ...

    async def next_due(self) -> float | None: ...


class StoredReminders:
    """The store's reminders as the dispatcher uses them: each call a transaction of its own
    (see :class:`~back_care_guide.store.repositories.ReminderRepository` for what they do)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def due(self, now: float, limit: int) -> list[Due]:
        async with self._store.transaction() as tx:
            return await tx.reminders.due(now, limit)

    async def claim(self, dues: Sequence[Due], now: float) -> list[Due]:
        async with self._store.transaction() as tx:
            return await tx.reminders.claim(dues, now)

    async def set_active_for_user(self, user_id: int, active: bool, now: float) -> int:
        async with self._store.transaction() as tx:
            return await tx.reminders.set_active_for_user(user_id, active, now)

    async def next_due(self) -> float | None:
        async with self._store.transaction() as tx:
            return await tx.reminders.next_due()


class ReminderDispatcher:
    def __init__(
        self,
        store: ReminderQueue,
        send: Callable[[Due], Awaitable[SendResult]],
        *,
        clock: Callable[[], float],
        rate_per_second: float = 25.0,
        per_chat_interval: float = 1.0,
        late_limit: float = 3600.0,
        batch: int = 500,
        concurrency: int = 8,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        before_send: Callable[[], Awaitable[None]] | None = None,
        give_back: Callable[[], None] | None = None,
        spread: bool = False,
    ) -> None:
        if rate_per_second <= 0 or batch <= 0 or concurrency <= 0:
            raise ValueError("rate_per_second, batch and concurrency must be positive")
        self._store = store
        self._send = send
        self._clock = clock
        self._sleep = sleep
        self._before_send = before_send
        # A claim that finds its reminder taken (by another replica, say) hands back the room
        # ``before_send`` reserved for it, or the replicas would waste most of their share.
        self._give_back = give_back
        # Several replicas read the same due list: each starts at a random point of it (and
        # wraps around), so that they do not all try to claim the same reminders at once.
        self._spread = spread
        self._per_chat_interval = per_chat_interval
        self._late_limit = late_limit
        self._batch = batch
        self._concurrency = concurrency
        # A bucket of one: attempts are spaced 1/rate apart, so any 1-second window holds
        # at most `rate_per_second` of them (no initial burst).
        self._limiter = AsyncLimiter(1, 1.0 / rate_per_second)
        self._last_attempt: dict[int, float] = {}
        self._paused_until = 0.0
        self._pause_span = 0.0

    async def run_once(self) -> DispatchStats:
        """Send everything due now (read in batches of ``batch``); returns the counts.

        Reminders are claimed one by one as they are sent; a claimed one is always
        finished, even if that means waiting out a FloodWait.
        """
        stats = DispatchStats()
        self._forget_old_chats()
        while True:
            now = self._clock()
            dues = await self._store.due(now, self._batch)
            late = [due for due in dues if due.late > self._late_limit]
            if late:  # advanced at once, never sent
                stats.too_late += len(await self._store.claim(late, now))
            progress = stats.total() - stats.stale
            await self._deliver_all([due for due in dues if due.late <= self._late_limit], stats)
            if len(dues) < self._batch or stats.total() - stats.stale == progress:
                break  # all read, or a full batch of stale ones: the next round reads afresh
        if stats.total() or stats.flood_waits:
            log.info(
                "reminders: sent=%d skipped=%d gone=%d too_late=%d failed=%d stale=%d flood_waits=%d",
                stats.sent, stats.skipped, stats.gone, stats.too_late, stats.failed, stats.stale,
                stats.flood_waits,
            )
        return stats

    async def run(self, stop: asyncio.Event, poll_interval: float = 1.0) -> None:
        """Run rounds until ``stop`` is set, sleeping until the earlier of ``poll_interval``
        and the next due time. A round in progress is finished before returning.
        """
        while not stop.is_set():
            delay = poll_interval
            try:
                await self.run_once()
                next_due = await self._store.next_due()
                if next_due is not None:
                    delay = max(0.0, min(poll_interval, next_due - self._clock()))
            except Exception:
                log.exception("reminder dispatch round failed")
            await sleep_until_set(stop, delay, self._sleep)

    # ----------------------------------------------------------------- internals

    async def _deliver_all(self, dues: list[Due], stats: DispatchStats) -> None:
        if not dues:
            return
        by_user: dict[int, list[Due]] = {}
        for due in dues:  # dues arrive earliest first; keep that order per user
            by_user.setdefault(due.user_id, []).append(due)
        pending = list(by_user.values())
        if self._spread:
            start = random.randrange(len(pending))
            pending = pending[start:] + pending[:start]
        pending.reverse()  # pop() from the end = earliest first

        async def worker() -> None:
            while pending:
                await self._deliver_user(pending.pop(), stats)

        async with asyncio.TaskGroup() as group:
            for _ in range(min(self._concurrency, len(pending))):
                group.create_task(worker())

    async def _deliver_user(self, dues: list[Due], stats: DispatchStats) -> None:
        for index, due in enumerate(dues):
            result = await self._deliver(due, stats)
            if result is SendResult.SENT:
                stats.sent += 1
            elif result is SendResult.SKIPPED:
                stats.skipped += 1
            elif result is SendResult.GONE:
                stats.gone += len(dues) - index  # the rest of this user's batch goes too
                try:
                    await self._store.set_active_for_user(due.user_id, False, self._clock())
                except Exception:
                    log.exception("reminder %s: could not pause the user's reminders", due.reminder_id)
                return

    async def _deliver(self, due: Due, stats: DispatchStats) -> SendResult | None:
        """Wait for this reminder's turn, claim it, send it. ``None``: not sent (and counted)."""
        claimed: Due | None = None
        while True:
            await self._wait_for_chat(due.user_id)
            await self._wait_for_flood()
            await self._limiter.acquire()
            if self._before_send is not None:
                await self._before_send()
            if self._paused_until > self._clock():
                continue  # a FloodWait began while this one queued for the limiter
            if claimed is None:  # the claim comes last, right before the send
                claimed = await self._claim(due, stats)
                if claimed is None:
                    if self._give_back is not None:
                        self._give_back()
                    return None
            self._last_attempt[due.user_id] = self._clock()
            try:
                return await self._send(claimed)
            except FloodWait as flood:
                stats.flood_waits += 1
                self._pause(flood.retry_after)
            except Exception as exc:
                stats.failed += 1
                log.warning("reminder %s: send failed (%s)", due.reminder_id, type(exc).__name__)
                return None

    async def _claim(self, due: Due, stats: DispatchStats) -> Due | None:
        now = self._clock()
        claimed = await self._store.claim([due], now)
        if not claimed:
            stats.stale += 1
            return None
        if claimed[0].late > self._late_limit:  # it waited its turn past the limit
            stats.too_late += 1
            return None
        return claimed[0]

    def _pause(self, seconds: float) -> None:
        self._pause_span = max(self._pause_span, seconds) if self._paused_until > self._clock() else seconds
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        log.warning("flood control: pausing reminder sending for %.1f s", seconds)

    async def _wait_for_flood(self) -> None:
        while (wait := self._paused_until - self._clock()) > 0:
            await self._sleep(min(wait, self._pause_span))  # capped in case the clock jumps back

    async def _wait_for_chat(self, user_id: int) -> None:
        last = self._last_attempt.get(user_id)
        if last is None:
            return
        wait = min(self._per_chat_interval, last + self._per_chat_interval - self._clock())
        if wait > 0:
            await self._sleep(wait)

    def _forget_old_chats(self) -> None:
        horizon = self._clock() - self._per_chat_interval
        self._last_attempt = {uid: t for uid, t in self._last_attempt.items() if t > horizon}

