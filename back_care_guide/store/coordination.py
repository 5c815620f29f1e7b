"""What several bot processes sharing one database agree on through it.

One process on its own (SQLite: its lock file allows no second one) needs none of this, and
:class:`SingleProcess` says so and does nothing. On PostgreSQL several replicas may serve one
bot (:mod:`back_care_guide.store.postgresql.coordination`):

* **one user at a time**: :meth:`Coordination.hold_user` keeps every other process from
  handling the same person until the block ends (their events are in order, whoever gets them);
* **a red flag first**: :meth:`Coordination.preempt` tells the process that holds a person to
  drop the messages it still has queued for them, as a single process does for itself;
* **a share of the Telegram budget**: :meth:`Coordination.heartbeat` says how many replicas
  are alive, and each takes that share of ``TELEGRAM_MAX_RATE`` and ``REMINDER_RATE``;
* **one poller**: :meth:`Coordination.lead` makes a second polling process wait as a hot
  standby until the first is gone.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

__all__ = ["Coordination", "Leadership", "SingleProcess"]


class Leadership(Protocol):
    """The right to do something only one process may do (polling Telegram)."""

    def watch(self, on_lost: Callable[[], None]) -> None:
        """Call ``on_lost`` (from another thread) if the right is lost: the database
        connection that held it broke, and another process may take it now."""
        ...

    def lost(self) -> bool:
        """Whether it has been lost."""
        ...

    def release(self) -> None: ...


class Coordination(Protocol):
    @property
    def shared(self) -> bool:
        """Whether other processes may use the same store at the same time."""
        ...

    def hold_user(self, user_id: int, *, wait: float) -> AbstractAsyncContextManager[bool]:
        """Until the block ends, no other process handles ``user_id``.

        Waits up to ``wait`` seconds for a process that holds the person; yields whether the
        hold was taken (``False``: waited too long, or the database failed; the caller goes
        on without it: an answer must never wait on the store).
        """
        ...

    async def preempt(self, user_id: int) -> None:
        """A red flag came for ``user_id``: any other process that holds them drops the
        messages it still has waiting for them (see :meth:`listen`)."""
        ...

    async def listen(self, on_preempt: Callable[[int], None]) -> None:
        """Call ``on_preempt(user_id)`` for every :meth:`preempt` of *another* process, until
        :meth:`close`. Returns once listening."""
        ...

    async def heartbeat(self, now: float) -> int:
        """Say this process is alive; how many processes are (this one included)."""
        ...

    def lead(self, role: str, *, on_wait: Callable[[], None],
             poll: float) -> Leadership:
        """Become the one process doing ``role``, waiting (blocking, checking every ``poll``
        seconds, ``on_wait`` called once) while another does it."""
        ...

    async def close(self) -> None: ...


class _Always:
    def watch(self, on_lost: Callable[[], None]) -> None:
        pass

    def lost(self) -> bool:
        return False

    def release(self) -> None:
        pass


class SingleProcess:
    """The coordination of a store that only one process can open: nothing to agree on."""

    shared = False

    @contextlib.asynccontextmanager
    async def hold_user(self, user_id: int, *, wait: float) -> AsyncIterator[bool]:
        yield True

    async def preempt(self, user_id: int) -> None:
        pass

    async def listen(self, on_preempt: Callable[[int], None]) -> None:
        pass

    async def heartbeat(self, now: float) -> int:
        return 1

    def lead(self, role: str, *, on_wait: Callable[[], None], poll: float) -> Leadership:
        return _Always()

    async def close(self) -> None:
        pass
