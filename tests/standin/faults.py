"""Fault injection: periodic 429s, 5xx bursts, latency, redirect loops, and Telegram-like flood
control."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import ApiError, too_many_requests

# Methods that put a new message into a chat; flood control counts these.
SENDING_METHODS = frozenset(
    {
        "sendmessage", "sendphoto", "senddocument", "sendsticker", "sendvoice", "sendaudio",
        "sendvideo", "sendanimation", "sendlocation", "sendcontact", "sendpoll", "senddice",
        "sendmediagroup", "copymessage", "forwardmessage", "sendvenue", "sendvideonote",
    }
)  # fmt: skip
EDITING_METHODS = frozenset(
    {"editmessagetext", "editmessagereplymarkup", "editmessagecaption", "editmessagemedia"}
)


@dataclass
class _Bucket:
    """A token bucket: ``burst`` tokens, refilled at ``rate`` per second."""

    rate: float
    burst: float
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_time(self) -> float:
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


@dataclass
class FloodControl:
    """Telegram's documented limits: ~1 msg/s per chat (small bursts allowed),
    20 msg/min per group, ~30 msg/s overall.  Exceeding them yields 429 with a
    ``retry_after`` computed from the bucket that ran dry.
    """

    per_chat_rate: float = 1.0
    per_chat_burst: float = 3.0
    group_rate: float = 20.0 / 60.0
    group_burst: float = 3.0
    global_rate: float = 30.0
    global_burst: float = 30.0
    include_edits: bool = False
    rejected: int = 0
    _chats: dict[int, _Bucket] = field(default_factory=dict, init=False, repr=False)
    _global: _Bucket | None = field(default=None, init=False, repr=False)

    def counts(self, method: str) -> bool:
        return method in SENDING_METHODS or (self.include_edits and method in EDITING_METHODS)

    def acquire(self, chat_id: int, is_group: bool, now: float | None = None) -> None:
        """Take one token from the chat's and the global bucket, or raise 429 (taking none)."""
        now = time.monotonic() if now is None else now
        if self._global is None:
            self._global = _Bucket(self.global_rate, self.global_burst, self.global_burst, now)
        chat = self._chats.get(chat_id)
        if chat is None:
            rate, burst = (
                (self.group_rate, self.group_burst) if is_group else (self.per_chat_rate, self.per_chat_burst)
            )
            chat = self._chats[chat_id] = _Bucket(rate, burst, burst, now)
        chat.refill(now)
        self._global.refill(now)
        wait = max(chat.wait_time(), self._global.wait_time())
        if wait > 0:
            self.rejected += 1
            raise too_many_requests(max(1, math.ceil(wait)))
        chat.tokens -= 1.0
        self._global.tokens -= 1.0


@dataclass
class _EveryNth:
    n: int
    retry_after: int
    calls: int = 0


@dataclass
class _ServerErrors:
    remaining: int
    status: int
    methods: frozenset[str] | None


class FaultInjector:
    """Faults decided before a method runs, so a failed call never has side effects."""

    def __init__(self) -> None:
        self._every_nth: dict[str, _EveryNth] = {}
        self._server_errors: _ServerErrors | None = None
        self.latency = 0.0
        self._latency_methods: frozenset[str] | None = None
        self.flood: FloodControl | None = None
        self._redirect_loop = False
        self._redirect_methods: frozenset[str] | None = None
        self.injected_429 = 0
        self.injected_5xx = 0
        self.injected_redirects = 0

    @staticmethod
    def _names(methods: Iterable[str] | None) -> frozenset[str] | None:
        return None if methods is None else frozenset(m.lower() for m in methods)

    def fail_every(self, method: str, n: int, retry_after: int = 1) -> None:
        """Every ``n``-th call of ``method`` (counted from now) fails with 429."""
        if n < 1 or retry_after < 1:
            raise ValueError("n and retry_after must be >= 1")
        self._every_nth[method.lower()] = _EveryNth(n, retry_after)

    def fail_next(self, count: int, status: int = 500, methods: Iterable[str] | None = None) -> None:
        """The next ``count`` calls (of ``methods``, or any method) fail with ``status``."""
        if status not in {500, 502, 503, 504}:
            raise ValueError("status must be 500, 502, 503 or 504")
        self._server_errors = _ServerErrors(count, status, self._names(methods))

    def set_latency(self, seconds: float, methods: Iterable[str] | None = None) -> None:
        self.latency = seconds
        self._latency_methods = self._names(methods)

    def redirect_loop(self, methods: Iterable[str] | None = None) -> None:
        """Calls of ``methods`` (or any method) answer 302 to their own URL, as a misconfigured
        proxy in front of the Bot API might: a client that follows redirects loops. The real
        Bot API never redirects."""
        self._redirect_loop = True
        self._redirect_methods = self._names(methods)

    def redirects(self, method: str) -> bool:
        if not self._redirect_loop:
            return False
        if self._redirect_methods is not None and method not in self._redirect_methods:
            return False
        self.injected_redirects += 1
        return True

    def enable_flood_control(self, flood: FloodControl | None = None) -> FloodControl:
        self.flood = flood or FloodControl()
        return self.flood

    def disable_flood_control(self) -> None:
        self.flood = None

    def clear(self) -> None:
        self._every_nth.clear()
        self._server_errors = None
        self.latency = 0.0
        self._latency_methods = None
        self.flood = None
        self._redirect_loop = False
        self._redirect_methods = None

    def delay_for(self, method: str) -> float:
        if self.latency <= 0:
            return 0.0
        if self._latency_methods is not None and method not in self._latency_methods:
            return 0.0
        return self.latency

    def before_call(self, method: str) -> ApiError | int | None:
        """An error to answer instead of running ``method``: ApiError, or a bare 5xx status."""
        errors = self._server_errors
        wanted = errors is not None and (errors.methods is None or method in errors.methods)
        if errors is not None and wanted and errors.remaining > 0:
            errors.remaining -= 1
            self.injected_5xx += 1
            return errors.status
        nth = self._every_nth.get(method)
        if nth is not None:
            nth.calls += 1
            if nth.calls % nth.n == 0:
                self.injected_429 += 1
                return too_many_requests(nth.retry_after)
        return None
