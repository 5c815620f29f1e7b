"""Per-person message rate: a flood gets one polite line, the rest is dropped.

A person (or a stuck client) sending faster than a few messages a second would otherwise
get the same answer hundreds of times and hold up the bot's send budget for everyone.
The runtime asks :meth:`FloodGuard.allow` for each typed message; safety decides first,
so a message that triage finds alarming is always processed, flood or not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

RATE = 3.0  # messages per second a person may keep up
BURST = 8  # messages a person may send at once
MAX_TRACKED = 100_000  # people remembered at once (the oldest are forgotten first)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float
    warned: bool = False


class FloodGuard:
    def __init__(self, rate: float = RATE, burst: int = BURST,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}

    def allow(self, user_id: int) -> bool:
        """Whether this message fits the person's rate (and count it if it does)."""
        now = self._clock()
        bucket = self._buckets.pop(user_id, None)  # re-inserted last: the dict stays LRU-ordered
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        allowed = bucket.tokens >= 1.0
        if allowed:
            bucket.tokens -= 1.0
            bucket.warned = False
        self._buckets[user_id] = bucket
        if len(self._buckets) > MAX_TRACKED:
            del self._buckets[next(iter(self._buckets))]
        return allowed

    def warn_once(self, user_id: int) -> bool:
        """True the first time a flood is noticed (until the person slows down again)."""
        bucket = self._buckets.get(user_id)
        if bucket is None or bucket.warned:
            return False
        bucket.warned = True
        return True


__all__ = ["FloodGuard"]
