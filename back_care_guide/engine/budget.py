"""The bot's messages per second, shared so that conversations come before reminders.

Telegram lets one bot send about 30 messages a second in all. A reminder burst (everyone's
08:00) could take nearly all of that and leave a person mid-session waiting behind it.
So conversation messages are counted here but never wait, and a reminder is sent only
while the last second's messages, of both kinds, leave room under the reminder rate: the
busier the conversations, the slower the reminders, down to none.

This is the runtime's side, for any transport: it decides when a reminder is *attempted*.
On Telegram the one owner of the real budget is the send scheduler in front of the Bot API
(:mod:`back_care_guide.telegram.sending`): it paces every call, sends SAFETY before REPLY before TIDY
before BULK (reminders), and handles 429s, so a reminder let through here still goes only
when nothing more urgent is queued.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable


class SendBudget:
    def __init__(self, reminder_rate: float, *, window: float = 1.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if reminder_rate <= 0 or window <= 0:
            raise ValueError("reminder_rate and window must be positive")
        self.reminder_rate = reminder_rate
        self._window = window
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()  # send times within the last window, oldest first

    def note(self, count: int = 1) -> None:
        """A conversation message went out (it never waits for the budget)."""
        now = self._clock()
        self._trim(now)
        self._sent.extend([now] * count)

    def used(self) -> int:
        """Messages sent within the last window."""
        self._trim(self._clock())
        return len(self._sent)

    async def reserve(self) -> None:
        """Wait until a reminder fits under the rate with everything else sent, and count it."""
        while True:
            now = self._clock()
            self._trim(now)
            if len(self._sent) < self.reminder_rate * self._window:
                self._sent.append(now)
                return
            await self._sleep(self._sent[0] + self._window - now)

    def give_back(self) -> None:
        """The reminder :meth:`reserve` made room for was not sent: free its room."""
        if self._sent:
            self._sent.pop()

    def _trim(self, now: float) -> None:
        horizon = now - self._window
        sent = self._sent
        while sent and sent[0] <= horizon:
            sent.popleft()
