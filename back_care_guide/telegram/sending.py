"""One send scheduler in front of the Bot API: safety messages first, bulk last.

Telegram lets a bot send about 30 messages a second in all and about one a second to one chat
(short bursts are tolerated). PTB's ``AIORateLimiter`` enforces that in arrival order, so a
red flag typed while 1,000 ``/start`` replies were queued waited behind all of them (31.9 s).
:class:`SendScheduler` is a :class:`~telegram.ext.BaseRateLimiter`, so every Bot API call
passes through it; a call's class comes in PTB's ``rate_limit_args`` as a :class:`Lane`, or
from its method when it has none. The classes, in the order they go out:

* **SAFETY**: urgent care, a stop, a pain stop, the question that pauses a hold. Someone may
  be in danger; nothing queued is worth a second of their time.
* **REPLY**: the next message of a live conversation; a person is looking at the chat.
* **TIDY**: edits that only take the buttons off an answered question (the default for
  ``editMessage*``). A press on an old keyboard is answered as stale anyway, so these may be
  merged (a newer edit of the same message replaces a queued one) or dropped: at once when
  the backlog ahead of them is more than ``tidy_backlog_seconds`` of the overall rate, when
  they have waited ``tidy_max_wait`` seconds, and when a safety message comes for their chat.
  A dropped call raises :class:`SendDropped` (a ``TelegramError``) to its caller.
* **BULK**: reminders and anything else nobody is waiting for.

Rules, all in :class:`SendQueue` (synchronous, on an injected clock, so tests use fake time):

* The overall token bucket (``overall_rate`` a second, a bucket of a third of a second) counts
  every call that has a ``chat_id``, edits included. ``overall_rate=0`` switches pacing off
  (overall and per chat); ordering and flood handling stay.
* Each private chat has a bucket of ``per_chat_burst`` at ``per_chat_rate`` a second (groups:
  20 a minute), taken by calls that create a message (``send*``, ``copy*``, ``forward*``);
  edits and other chat methods take none.
* A chat's calls go out one at a time, in order (the next starts when the previous has
  answered), so they can never overtake each other on the way. The one exception: a SAFETY
  call goes before its own chat's queued REPLY/TIDY/BULK calls, and the chat's queued TIDY
  edits are dropped then (the interrupted exercise itself is cancelled upstream, by the engine).
* The next call to go is the chat head with the lowest class, first come first served
  within a class, among chats that are not paused, not busy and have a token.
* Methods without a ``chat_id`` (``answerCallbackQuery``, ``setMyCommands``, ``getMe``...) do
  not use the message budget: they go at once and wait for no queue.

Flood control (429 ``RetryAfter``): the call goes back to the front of its chat and is tried
again, up to ``max_retries`` times, then the ``RetryAfter`` reaches the caller. Telegram does
not say which limit a 429 was for, so the scheduler decides:

* a 429 on a call *with* a ``chat_id`` pauses that chat only, for ``retry_after``;
* it pauses *everything* budgeted when the call had no ``chat_id`` (that limit can only be
  the bot's), or when ``GLOBAL_429_CHATS`` different chats got a 429 within
  ``GLOBAL_429_WINDOW`` seconds (one chat over its limit is that chat; several at once means
  the bot as a whole is over).

Bounds: at most ``max_queued`` calls wait (the callers upstream are bounded anyway: update
slots and reminder workers); when full a TIDY edit is dropped to make room, and if there is
none a REPLY/BULK call is refused with :class:`SendDropped` (a SAFETY call is always taken).
Idle chats are forgotten once their bucket is full again. ``shutdown`` lets the queue drain
for up to ``drain_timeout`` seconds, then fails what is left with :class:`SendDropped` and
refuses new calls, so nothing reaches a closed HTTP client ("not initialized").
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from telegram.error import RetryAfter, TelegramError
from telegram.ext import BaseRateLimiter

from back_care_guide.engine.events import Priority
from back_care_guide.observability.metrics import Metrics
from back_care_guide.waiting import sleep_until_set

__all__ = ["Lane", "SendDropped", "SendQueue", "SendScheduler", "Ticket", "retry_after_seconds"]

log = logging.getLogger(__name__)

# Our buckets are smaller than Telegram's (about 30 a second with a second's burst, 1 a second
# per chat with a burst of about 3): what we leave of theirs absorbs network jitter, so a call
# paced exactly at the limit never arrives a moment early and gets a 429.
OVERALL_BURST_SECONDS = 1 / 3  # the overall bucket holds a third of a second's sends
PER_CHAT_RATE = 1.0  # messages a second to one private chat
PER_CHAT_BURST = 2.0
GROUP_RATE = 20 / 60  # messages a second to one group
GROUP_BURST = 2.0
GLOBAL_429_CHATS = 3  # this many chats flood-limited ...
GLOBAL_429_WINDOW = 1.0  # ... within this many seconds: the limit is the bot's, pause all
TIDY_BACKLOG_SECONDS = 2.0  # a tidy edit behind more than this much queued work is dropped
TIDY_MAX_WAIT = 5.0  # a tidy edit not out after this long is dropped
MAX_QUEUED = 10_000
DRAIN_TIMEOUT = 5.0
SWEEP_INTERVAL = 1.0  # seconds between forgetting idle chats
EPSILON = 1e-6  # a token this close to whole is whole (float sums of 1/rate steps fall short)

MESSAGE_PREFIXES = ("send", "copy", "forward")  # methods that put a new message in a chat
EDIT_PREFIX = "edit"

ChatKey = int | str
Result = bool | dict[str, Any] | list[dict[str, Any]]


class SendDropped(TelegramError):
    """The scheduler did not send this call: a tidy edit given up, a full queue, or shutdown."""


@dataclass(frozen=True, slots=True)
class Lane:
    """``rate_limit_args`` for one Bot API call: its class.

    (A bare ``Priority`` cannot be used: PTB drops falsy ``rate_limit_args``, and SAFETY is 0.)
    """

    priority: Priority


@dataclass(slots=True)
class _Bucket:
    rate: float
    burst: float
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait(self, now: float) -> float:
        self.refill(now)
        missing = 1.0 - self.tokens
        return 0.0 if missing <= EPSILON else missing / self.rate

    def take(self, now: float) -> None:
        self.refill(now)
        self.tokens -= 1.0

    def full(self, now: float) -> bool:
        self.refill(now)
        return self.tokens >= self.burst - EPSILON


@dataclass(eq=False, slots=True)
class Ticket:
    """One call waiting for its turn. ``waiter`` belongs to the async layer."""

    chat: ChatKey
    priority: Priority
    seq: int
    queued_at: float
    counts_for_chat: bool = True  # creates a message: takes a token of the chat's bucket
    merge_key: object = None  # a queued TIDY with the same key is replaced by this one
    waiter: asyncio.Future[None] | None = None


@dataclass(slots=True)
class _Chat:
    bucket: _Bucket | None
    safety: deque[Ticket] = field(default_factory=deque)
    rest: deque[Ticket] = field(default_factory=deque)
    busy: bool = False  # one call in flight
    paused_until: float = 0.0

    def head(self) -> Ticket | None:
        if self.safety:
            return self.safety[0]
        return self.rest[0] if self.rest else None

    def pop_head(self) -> Ticket:
        return self.safety.popleft() if self.safety else self.rest.popleft()

    def wait(self, ticket: Ticket, now: float) -> float:
        wait = self.paused_until - now
        if ticket.counts_for_chat and self.bucket is not None:
            wait = max(wait, self.bucket.wait(now))
        return max(0.0, wait)


class SendQueue:
    """The scheduling decisions, without asyncio: push, grant, done, retry."""

    def __init__(self, overall_rate: float = 30.0, *, per_chat_rate: float = PER_CHAT_RATE,
                 per_chat_burst: float = PER_CHAT_BURST, max_queued: int = MAX_QUEUED,
                 tidy_backlog_seconds: float = TIDY_BACKLOG_SECONDS,
                 tidy_max_wait: float = TIDY_MAX_WAIT,
                 on_drop: Callable[[Ticket, str], None] | None = None) -> None:
        if overall_rate < 0 or per_chat_rate < 0 or max_queued < 1:
            raise ValueError("rates must be >= 0 and max_queued >= 1")
        self.overall_rate = overall_rate
        self.per_chat_rate = per_chat_rate if overall_rate else 0.0
        self.per_chat_burst = max(1.0, per_chat_burst)
        self.max_queued = max_queued
        self._tidy_backlog_seconds = tidy_backlog_seconds
        self.tidy_backlog = overall_rate * tidy_backlog_seconds if overall_rate else None
        self.tidy_max_wait = tidy_max_wait
        self._on_drop = on_drop if on_drop is not None else (lambda ticket, reason: None)
        self._global: _Bucket | None = None
        self._chats: dict[ChatKey, _Chat] = {}
        self._ready: list[tuple[int, int, ChatKey]] = []  # (priority, seq, chat); may be stale
        self._sleeping: list[tuple[float, int, ChatKey]] = []  # (when it may go, n, chat); may be stale
        self._queued = dict.fromkeys(Priority, 0)
        self._seq = itertools.count()
        self.paused_until = 0.0  # everything (a global 429)
        self._recent_429: deque[tuple[float, ChatKey]] = deque()
        self._last_sweep = float("-inf")

    def set_overall_rate(self, rate: float, now: float) -> None:
        """Send at ``rate`` a second from now on (a replica's share of the bot's budget changed);
        tokens in hand above the new burst are given up. Pacing that is off stays off."""
        if not self.overall_rate or rate <= 0:
            return
        self.overall_rate = rate
        self.tidy_backlog = rate * self._tidy_backlog_seconds
        if self._global is not None:
            self._global.refill(now)
            self._global.rate = rate
            self._global.burst = max(1.0, rate * OVERALL_BURST_SECONDS)
            self._global.tokens = min(self._global.tokens, self._global.burst)

    # ------------------------------------------------------------ queries
    def queued(self, priority: Priority | None = None) -> int:
        return sum(self._queued.values()) if priority is None else self._queued[priority]

    def busy(self) -> int:
        return sum(1 for chat in self._chats.values() if chat.busy)

    def chats(self) -> int:
        return len(self._chats)

    # ------------------------------------------------------------ in
    def ticket(self, chat: ChatKey, priority: Priority, now: float, *, counts_for_chat: bool = True,
               merge_key: object = None) -> Ticket:
        return Ticket(chat, priority, next(self._seq), now, counts_for_chat, merge_key)

    def push(self, ticket: Ticket) -> bool:
        """Queue ``ticket``; False if it was dropped instead (``on_drop`` has been told)."""
        chat = self._chat(ticket.chat, ticket.queued_at)
        if ticket.priority is Priority.TIDY:
            ahead = self._queued[Priority.SAFETY] + self._queued[Priority.REPLY] + \
                self._queued[Priority.TIDY]
            if self.tidy_backlog is not None and ahead >= self.tidy_backlog:
                self._on_drop(ticket, "budget short")
                return False
            if ticket.merge_key is not None:
                self._drop_tidy(chat, lambda t: t.merge_key == ticket.merge_key, "merged")
        full = ticket.priority is not Priority.SAFETY and self.queued() >= self.max_queued
        if full and (ticket.priority is Priority.TIDY or not self._drop_oldest_tidy()):
            self._on_drop(ticket, "queue full")
            return False
        if ticket.priority is Priority.SAFETY:
            self._drop_tidy(chat, lambda t: True, "safety first")
            chat.safety.append(ticket)
        else:
            chat.rest.append(ticket)
        self._queued[ticket.priority] += 1
        self._arm(ticket.chat)
        return True

    def cancel(self, ticket: Ticket) -> None:
        """The caller gave up before its turn: forget the ticket."""
        chat = self._chats.get(ticket.chat)
        if chat is None:
            return
        for line in (chat.safety, chat.rest):
            if ticket in line:
                line.remove(ticket)
                self._queued[ticket.priority] -= 1
                self._arm(ticket.chat)
                return

    # ------------------------------------------------------------ out
    def grant(self, now: float) -> list[Ticket]:
        """The tickets that may go now, in order; their chats are busy until :meth:`done`."""
        self._sweep(now)
        while self._sleeping and self._sleeping[0][0] <= now:
            self._arm(heapq.heappop(self._sleeping)[2])
        granted: list[Ticket] = []
        if now < self.paused_until:
            return granted
        while self._ready:
            if self._global is not None and self._global.wait(now) > 0:
                break
            _, seq, key = heapq.heappop(self._ready)
            chat = self._chats.get(key)
            head = chat.head() if chat is not None else None
            if chat is None or chat.busy or head is None or head.seq != seq:
                continue  # stale entry
            wait = chat.wait(head, now)
            if wait > 0:
                heapq.heappush(self._sleeping, (now + wait, next(self._seq), key))
                continue
            chat.pop_head()
            self._queued[head.priority] -= 1
            if head.priority is Priority.TIDY and now - head.queued_at > self.tidy_max_wait:
                self._on_drop(head, "waited too long")
                self._arm(key)
                continue
            if head.counts_for_chat and chat.bucket is not None:
                chat.bucket.take(now)
            if self._global is not None:
                self._global.take(now)
            chat.busy = True
            granted.append(head)
        return granted

    def next_wake(self, now: float) -> float | None:
        """Seconds until :meth:`grant` may have something again (None: only a push will)."""
        if not self._ready and not self._sleeping:
            return None
        if now < self.paused_until:
            return self.paused_until - now
        waits = []
        if self._sleeping:
            waits.append(self._sleeping[0][0] - now)
        if self._ready:
            waits.append(self._global.wait(now) if self._global is not None else 0.0)
        return max(0.0, min(waits))

    def done(self, ticket: Ticket) -> None:
        """The granted call has answered (or failed for good): its chat's next may go."""
        chat = self._chats.get(ticket.chat)
        if chat is not None:
            chat.busy = False
            self._arm(ticket.chat)

    def retry(self, ticket: Ticket, now: float, retry_after: float) -> bool:
        """A 429 answered ``ticket``: pause its chat (or all) and put it back at the front.

        Returns True when the pause was made global.
        """
        chat = self._chat(ticket.chat, now)
        chat.busy = False
        chat.paused_until = max(chat.paused_until, now + retry_after)
        (chat.safety if ticket.priority is Priority.SAFETY else chat.rest).appendleft(ticket)
        self._queued[ticket.priority] += 1
        self._recent_429.append((now, ticket.chat))
        while self._recent_429 and self._recent_429[0][0] < now - GLOBAL_429_WINDOW:
            self._recent_429.popleft()
        made_global = len({key for _, key in self._recent_429}) >= GLOBAL_429_CHATS
        if made_global:
            self.pause_all(now, retry_after)
        self._arm(ticket.chat)
        return made_global

    def pause_all(self, now: float, seconds: float) -> None:
        self.paused_until = max(self.paused_until, now + seconds)

    def drain(self) -> list[Ticket]:
        """Take every queued ticket out (shutdown)."""
        left = [t for chat in self._chats.values() for line in (chat.safety, chat.rest) for t in line]
        for chat in self._chats.values():
            chat.safety.clear()
            chat.rest.clear()
        self._queued = dict.fromkeys(Priority, 0)
        self._ready.clear()
        self._sleeping.clear()
        return left

    # ------------------------------------------------------------ internals
    def _chat(self, key: ChatKey, now: float) -> _Chat:
        chat = self._chats.get(key)
        if chat is None:
            bucket = None
            if self.per_chat_rate:
                group = isinstance(key, str) or key < 0
                rate, burst = (GROUP_RATE, GROUP_BURST) if group else \
                    (self.per_chat_rate, self.per_chat_burst)
                bucket = _Bucket(rate, burst, burst, now)
            chat = self._chats[key] = _Chat(bucket)
        if self._global is None and self.overall_rate:
            burst = max(1.0, self.overall_rate * OVERALL_BURST_SECONDS)
            self._global = _Bucket(self.overall_rate, burst, burst, now)
        return chat

    def _arm(self, key: ChatKey) -> None:
        chat = self._chats.get(key)
        head = chat.head() if chat is not None else None
        if chat is not None and head is not None and not chat.busy:
            heapq.heappush(self._ready, (head.priority, head.seq, key))

    def _drop_tidy(self, chat: _Chat, which: Callable[[Ticket], bool], reason: str) -> None:
        dropped = [t for t in chat.rest if t.priority is Priority.TIDY and which(t)]
        for ticket in dropped:
            chat.rest.remove(ticket)
            self._queued[Priority.TIDY] -= 1
            self._on_drop(ticket, reason)

    def _drop_oldest_tidy(self) -> bool:
        oldest: tuple[Ticket, _Chat] | None = None
        for chat in self._chats.values():
            for ticket in chat.rest:
                if ticket.priority is Priority.TIDY and (oldest is None or ticket.seq < oldest[0].seq):
                    oldest = (ticket, chat)
        if oldest is None:
            return False
        ticket, chat = oldest
        chat.rest.remove(ticket)
        self._queued[Priority.TIDY] -= 1
        self._on_drop(ticket, "queue full")
        return True

    def _sweep(self, now: float) -> None:
        """Forget chats with nothing queued or in flight whose bucket and pause are over."""
        if now - self._last_sweep < SWEEP_INTERVAL:
            return
        self._last_sweep = now
        idle = [key for key, chat in self._chats.items()
                if not chat.busy and chat.head() is None and chat.paused_until <= now
                and (chat.bucket is None or chat.bucket.full(now))]
        for key in idle:
            del self._chats[key]


def retry_after_seconds(exc: RetryAfter) -> float:
    """How long Telegram asked to wait (``.retry_after`` itself warns in PTB 22)."""
    return max(0.0, exc._retry_after.total_seconds())


def _chat_key(chat_id: object) -> ChatKey:
    if isinstance(chat_id, int):
        return chat_id
    text = str(chat_id)
    with contextlib.suppress(ValueError):
        return int(text)
    return text


class SendScheduler(BaseRateLimiter[Lane]):
    """The :class:`SendQueue` as PTB's rate limiter: callers wait for their turn, a pump grants.

    Pass it to ``ApplicationBuilder.rate_limiter``; give a call its class with
    ``back_care_guide.send_message(..., rate_limit_args=Lane(Priority.SAFETY))``.
    """

    def __init__(self, overall_rate: float = 30.0, *, per_chat_rate: float = PER_CHAT_RATE,
                 per_chat_burst: float = PER_CHAT_BURST, max_retries: int = 5,
                 max_queued: int = MAX_QUEUED, tidy_max_wait: float = TIDY_MAX_WAIT,
                 drain_timeout: float = DRAIN_TIMEOUT,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 metrics: Metrics | None = None) -> None:
        self.queue = SendQueue(overall_rate, per_chat_rate=per_chat_rate,
                               per_chat_burst=per_chat_burst, max_queued=max_queued,
                               tidy_max_wait=tidy_max_wait, on_drop=self._dropped)
        self.max_retries = max_retries
        self.drain_timeout = drain_timeout
        self._clock = clock
        self._sleep = sleep
        self._wake = asyncio.Event()
        self._pump_task: asyncio.Task[None] | None = None
        self._closed = False
        self.dropped = 0  # calls given up (tidy edits, full queue, shutdown)
        self.flood_waits = 0  # 429 answers seen
        self.global_pauses = 0
        self.metrics = metrics or Metrics()
        for lane in Priority:
            self.metrics.send_queue_depth.labels(lane.name.lower()).set_function(
                functools.partial(self.queue.queued, lane))

    # ------------------------------------------------------------ lifecycle
    async def initialize(self) -> None:
        self._closed = False
        self._ensure_pump()

    async def shutdown(self) -> None:
        """Let queued calls go for up to ``drain_timeout`` s, then fail the rest; refuse new ones."""
        self._closed = True
        deadline = self._clock() + self.drain_timeout
        while (self.queue.queued() or self.queue.busy()) and self._clock() < deadline:
            self._wake.set()
            await self._sleep(0.05)
        for ticket in self.queue.drain():
            self._dropped(ticket, "shutting down")
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
            self._pump_task = None

    # ------------------------------------------------------------ requests
    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Lane | None,
    ) -> Result:
        chat_id = data.get("chat_id")
        if chat_id is None:
            return await self._unbudgeted(callback, args, kwargs, endpoint)
        if self._closed:
            raise SendDropped("the bot is shutting down")
        method = endpoint.lower()
        creates = method.startswith(MESSAGE_PREFIXES)
        if isinstance(rate_limit_args, Lane):
            priority = rate_limit_args.priority
        else:
            priority = Priority.TIDY if method.startswith(EDIT_PREFIX) else Priority.REPLY
        chat = _chat_key(chat_id)
        merge = (chat, data.get("message_id")) if priority is Priority.TIDY and \
            data.get("message_id") is not None else None
        ticket = self.queue.ticket(chat, priority, self._clock(), counts_for_chat=creates,
                                   merge_key=merge)
        self._ensure_pump()
        retry_after: float | None = None
        for attempt in range(self.max_retries + 1):
            await self._turn(ticket, retry_after)
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as exc:
                self.flood_waits += 1
                if attempt == self.max_retries:
                    self._finished(ticket)
                    log.warning("flood control: %s to chat %s failed after %d retries",
                                endpoint, chat, attempt)
                    raise
                retry_after = retry_after_seconds(exc)
            except BaseException:
                self._finished(ticket)
                raise
            else:
                self._finished(ticket)
                return result
        raise AssertionError("unreachable")  # pragma: no cover

    async def _turn(self, ticket: Ticket, retry_after: float | None) -> None:
        """Queue the ticket (again, after a 429) and wait until the pump lets it go."""
        ticket.waiter = waiter = asyncio.get_running_loop().create_future()
        if retry_after is None:
            self.queue.push(ticket)  # a drop sets the waiter's exception at once
        elif self.queue.retry(ticket, self._clock(), retry_after):
            self.global_pauses += 1
            log.warning("flood control: several chats limited at once; pausing all sends %.1f s",
                        retry_after)
        else:
            log.info("flood control: pausing chat %s for %.1f s", ticket.chat, retry_after)
        self._wake.set()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.queue.done(ticket)  # granted, then cancelled: free the chat
            else:
                self.queue.cancel(ticket)
            self._wake.set()
            raise

    def _finished(self, ticket: Ticket) -> None:
        self.queue.done(ticket)
        self._wake.set()

    async def _unbudgeted(self, callback: Callable[..., Coroutine[Any, Any, Result]], args: Any,
                          kwargs: dict[str, Any], endpoint: str) -> Result:
        """No chat, no message budget (answerCallbackQuery, setMyCommands...): go at once.

        A 429 here can only be the bot's own limit: every budgeted send pauses too.
        """
        for attempt in range(self.max_retries + 1):
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                self.flood_waits += 1
                seconds = retry_after_seconds(exc)
                self.queue.pause_all(self._clock(), seconds)
                self.global_pauses += 1
                log.warning("flood control on %s: pausing all sends %.1f s", endpoint, seconds)
                if attempt == self.max_retries or endpoint == "answerCallbackQuery":
                    raise  # a late answer to a press is worth nothing
                await self._sleep(seconds)
        raise AssertionError("unreachable")  # pragma: no cover

    def set_overall_rate(self, rate: float) -> None:
        """Pace every call at ``rate`` a second from now on (this replica's share)."""
        self.queue.set_overall_rate(rate, self._clock())
        self._wake.set()

    # ------------------------------------------------------------ the pump
    def _ensure_pump(self) -> None:
        if self._pump_task is None or self._pump_task.done():
            self._wake = asyncio.Event()  # bound to this loop
            self._pump_task = asyncio.get_running_loop().create_task(self._pump())

    async def _pump(self) -> None:
        """Grant what may go, then sleep until the next token or pause ends, or a wake-up."""
        while True:
            self._wake.clear()
            now = self._clock()
            for ticket in self.queue.grant(now):
                self.metrics.send_wait_seconds.labels(ticket.priority.name.lower()).observe(
                    now - ticket.queued_at)
                if ticket.waiter is not None and not ticket.waiter.done():
                    ticket.waiter.set_result(None)
                else:  # its caller is gone
                    self.queue.done(ticket)
            delay = self.queue.next_wake(self._clock())
            if delay is None:
                await self._wake.wait()
            elif delay > 0:
                await sleep_until_set(self._wake, delay, self._sleep)
            else:
                await asyncio.sleep(0)

    def _dropped(self, ticket: Ticket, reason: str) -> None:
        self.dropped += 1
        self.metrics.sends_dropped.labels(reason).inc()
        log.debug("send to chat %s (%s) dropped: %s", ticket.chat, ticket.priority.name, reason)
        if ticket.waiter is not None and not ticket.waiter.done():
            ticket.waiter.set_exception(SendDropped(f"not sent: {reason}"))
