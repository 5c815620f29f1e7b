"""Several replicas, one bot: each sends at most its share of the bot's Telegram budget.

Telegram's limits (about 30 messages a second) are the bot's, whichever replica sends. Each
replica says it is alive in the shared database every :data:`HEARTBEAT_EVERY` seconds and
learns how many are; it then paces its own send scheduler at ``TELEGRAM_MAX_RATE / n`` and
its reminders at ``REMINDER_RATE / n``. The scheduler's priority classes stay as they are
inside each replica: a red flag goes before everything that replica has queued.

Why a share and not a token taken from the database for every message: a message would then
wait for a round trip, and when the database fails nothing could be sent at all, urgent care
included. A share costs one statement a second and keeps working without the database (the
last share is kept). Its limits: a replica that dies leaves its share unused for up to
:data:`~back_care_guide.store.postgresql.coordination.LIVE_FOR` seconds, a new one may take
its share a heartbeat before the others give theirs up, and one replica's burst cannot use
another's idle share.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from back_care_guide.engine.runtime import Runtime
from back_care_guide.store.coordination import Coordination
from back_care_guide.telegram.sending import SendScheduler

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = 1.0  # seconds


class BudgetShare:
    def __init__(self, coordination: Coordination, scheduler: SendScheduler, runtime: Runtime, *,
                 max_rate: float, reminder_rate: float, every: float = HEARTBEAT_EVERY,
                 clock: Callable[[], float] = time.time) -> None:
        self.coordination = coordination
        self.scheduler = scheduler
        self.runtime = runtime
        self.max_rate = max_rate
        self.reminder_rate = reminder_rate
        self.every = every
        self.clock = clock
        self.replicas = 1
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """The first heartbeat (so the share is right before the first message), then the rest."""
        await self.beat()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def beat(self) -> None:
        try:
            replicas = await self.coordination.heartbeat(self.clock())
        except Exception as exc:  # keep the last share; the store's failure is logged elsewhere
            log.debug("heartbeat failed (%s)", type(exc).__name__)
            return
        if replicas != self.replicas:
            log.info("%d replicas share the bot: this one sends at most %s", replicas,
                     f"{self.max_rate / replicas:.1f} messages a second" if self.max_rate
                     else "(no limit: TELEGRAM_MAX_RATE=0)")
            self.replicas = replicas
            self.apply()

    def apply(self) -> None:
        if self.max_rate:
            self.scheduler.set_overall_rate(self.max_rate / self.replicas)
        self.runtime.budget.reminder_rate = self.reminder_rate / self.replicas

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            await self.beat()
