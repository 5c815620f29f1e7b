"""Several bot processes on one PostgreSQL database (the protocol is in
:mod:`back_care_guide.store.coordination`).

* **A person's hold** is a session advisory lock on their user id, taken on a connection of
  a pool of its own and kept until their event's messages are out, so that another replica
  handles their next update only after this one has finished: in order, on fresh state. A
  replica that dies loses its connection, and PostgreSQL releases its locks at once.
* **Preempting** is a ``NOTIFY`` on :data:`PREEMPT_CHANNEL` with this process's id, which
  every other process ``LISTEN``\\ s for on a connection of its own (reconnecting after a
  failure, until closed).
* **Heartbeats** go into the ``replicas`` table by the database's clock (the replicas' own
  clocks may differ); a process seen within :data:`LIVE_FOR` seconds is alive.
* **Leadership** is a session advisory lock on a synchronous connection of its own, taken
  before the event loop of ``run_polling`` starts and checked every second by a thread.

Lock keys: a user's key is their id (Telegram ids are below 2**52); the other keys here and
the migration lock are above 2**60, so they never meet a user's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from back_care_guide.store.coordination import Leadership

log = logging.getLogger(__name__)

PREEMPT_CHANNEL = "back_care_guide_preempt"
#: Seconds since its last heartbeat for which a replica counts as alive (3 heartbeats).
LIVE_FOR = 3.0
# Connections for holds opened at start (more are opened as needed): opening one costs a few
# milliseconds, which a person tapping a button should not wait for.
WARM_HOLDS = 16
FORGET_AFTER = 3600.0  # seconds: a replica row this old is removed (it is long gone)
RECONNECT_EVERY = 1.0  # seconds between attempts to listen again after a failure
CHECK_LEADERSHIP_EVERY = 1.0  # seconds between checks that the leader's connection is alive
ROLE_KEYS = {"polling": 0x6263672D706F6C6C}  # "bcg-poll"

AsyncConnection = psycopg.AsyncConnection[TupleRow]


class PgCoordination:
    """:class:`~back_care_guide.store.coordination.Coordination` on PostgreSQL."""

    shared = True

    def __init__(self, database_url: str, *, pool_size: int, connect_timeout: float) -> None:
        self._url = database_url
        self._connect_timeout = connect_timeout
        self.replica = uuid.uuid4().hex[:12]  # this process, in heartbeats and notifications
        self._pool: AsyncConnectionPool[AsyncConnection] = AsyncConnectionPool(
            database_url, min_size=min(pool_size, WARM_HOLDS), max_size=pool_size, open=False,
            timeout=connect_timeout,
            kwargs={"autocommit": True, "connect_timeout": max(1, round(connect_timeout))},
            name="back_care_guide-locks")
        self._pool_open = False
        self._listener: asyncio.Task[None] | None = None
        self._closed = False

    async def _connections(self) -> AsyncConnectionPool[AsyncConnection]:
        if self._closed:
            raise RuntimeError("the store is closed")
        if not self._pool_open:
            await self._pool.open()
            self._pool_open = True
        return self._pool

    # ------------------------------------------------------------------ a person's hold

    @contextlib.asynccontextmanager
    async def hold_user(self, user_id: int, *, wait: float) -> AsyncIterator[bool]:
        conn = await self._lock_connection(wait)
        if conn is None:
            yield False
            return
        held = False
        try:
            held = await _advisory_lock(conn, user_id, wait)
            yield held
        finally:
            await self._unlock(conn, user_id, held)

    async def _lock_connection(self, wait: float) -> AsyncConnection | None:
        try:
            pool = await self._connections()
            return await pool.getconn(timeout=max(0.05, wait))
        except (PoolTimeout, psycopg.Error, OSError) as exc:
            _without_hold.note(f"no connection: {type(exc).__name__}")
            return None

    async def _unlock(self, conn: AsyncConnection, user_id: int, held: bool) -> None:
        try:
            if held:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (user_id,))
        except psycopg.Error:
            await conn.close()  # closing the session releases its locks; the pool drops it
        finally:
            await self._pool.putconn(conn)

    # ------------------------------------------------------------------ red flags

    async def preempt(self, user_id: int) -> None:
        try:
            pool = await self._connections()
            async with pool.connection(timeout=1.0) as conn:
                await conn.execute("SELECT pg_notify(%s, %s)",
                                   (PREEMPT_CHANNEL, f"{self.replica}:{user_id}"))
        except (PoolTimeout, psycopg.Error, OSError) as exc:
            log.warning("could not tell the other replicas about a red flag (%s)",
                        type(exc).__name__)

    async def listen(self, on_preempt: Callable[[int], None]) -> None:
        listening = asyncio.get_running_loop().create_future()
        self._listener = asyncio.create_task(self._listen(on_preempt, listening))
        await asyncio.wait([listening, self._listener], timeout=self._connect_timeout,
                           return_when=asyncio.FIRST_COMPLETED)

    async def _listen(self, on_preempt: Callable[[int], None],
                      listening: asyncio.Future[None]) -> None:
        failed = False
        while not self._closed:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True, connect_timeout=max(1, round(self._connect_timeout)))
                async with conn:
                    await conn.execute(f"LISTEN {PREEMPT_CHANNEL}")
                    if failed:
                        log.warning("listening to the other replicas again")
                        failed = False
                    if not listening.done():
                        listening.set_result(None)
                    async for note in conn.notifies():
                        replica, _, user = note.payload.partition(":")
                        if replica != self.replica and user.isdigit():
                            on_preempt(int(user))
            except (psycopg.Error, OSError) as exc:
                if not failed:
                    log.error("not listening to the other replicas (%s); retrying",
                              type(exc).__name__)
                    failed = True
                if not listening.done():
                    listening.set_result(None)  # start anyway: events are still handled
                await asyncio.sleep(RECONNECT_EVERY)

    # ------------------------------------------------------------------ replicas

    async def heartbeat(self, now: float) -> int:
        pool = await self._connections()
        async with pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO replicas (id, seen) VALUES (%s, extract(epoch FROM clock_timestamp()))"
                " ON CONFLICT (id) DO UPDATE SET seen = excluded.seen", (self.replica,))
            await conn.execute(
                "DELETE FROM replicas WHERE seen < extract(epoch FROM clock_timestamp()) - %s",
                (FORGET_AFTER,))
            cursor = await conn.execute(
                "SELECT count(*) FROM replicas WHERE seen >= extract(epoch FROM clock_timestamp())"
                " - %s", (LIVE_FOR,))
            row = await cursor.fetchone()
        return max(1, int(row[0]) if row else 1)

    # ------------------------------------------------------------------ polling

    def lead(self, role: str, *, on_wait: Callable[[], None], poll: float) -> Leadership:
        return PgLeadership(self._url, ROLE_KEYS[role], on_wait=on_wait, poll=poll,
                            connect_timeout=self._connect_timeout)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._pool_open:
            with contextlib.suppress(psycopg.Error, OSError):
                async with self._pool.connection(timeout=1.0) as conn:
                    await conn.execute("DELETE FROM replicas WHERE id = %s", (self.replica,))
        await self._pool.close()


async def _advisory_lock(conn: AsyncConnection, key: int, wait: float) -> bool:
    """Take the session lock ``key``, waiting up to ``wait`` seconds; whether it was taken."""
    try:
        if wait <= 0:
            cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))
            row = await cursor.fetchone()
            return bool(row and row[0])
        await conn.execute("SELECT set_config('lock_timeout', %s, false), pg_advisory_lock(%s)",
                           (f"{max(1, round(wait * 1000))}ms", key))  # one round trip
        return True
    except psycopg.errors.LockNotAvailable:
        _without_hold.note(f"busy for over {wait:.1f} s")
        return False
    except (psycopg.Error, OSError) as exc:
        _without_hold.note(type(exc).__name__)
        return False


class _Occasional:
    """One warning line per :data:`WARN_EVERY` seconds at most, counting the ones left out:
    under a flood of events, a database that is down would otherwise write a line for each."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.last = float("-inf")
        self.left_out = 0

    def note(self, reason: str) -> None:
        now = time.monotonic()
        if now - self.last < WARN_EVERY:
            self.left_out += 1
            return
        more = f" ({self.left_out} more since the last line)" if self.left_out else ""
        log.warning("%s (%s); going on without it%s", self.message, reason, more)
        self.last, self.left_out = now, 0


WARN_EVERY = 60.0
_without_hold = _Occasional("a person's hold across replicas could not be taken")


class PgLeadership:
    """Waits (blocking) until this process holds ``key``; a thread then checks every second
    that the connection holding it is alive. A lost connection means another process may
    lead now: :meth:`lost` turns true and ``on_lost`` (see :meth:`watch`) is called once."""

    def __init__(self, url: str, key: int, *, on_wait: Callable[[], None], poll: float,
                 connect_timeout: float) -> None:
        self._key = key
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._conn = self._acquire(url, on_wait, poll, connect_timeout)
        self._thread: threading.Thread | None = None

    def _acquire(self, url: str, on_wait: Callable[[], None], poll: float,
                 connect_timeout: float) -> psycopg.Connection[TupleRow]:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=max(1, round(connect_timeout)))
        waited = False
        while True:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
            if row and row[0]:
                return conn
            if not waited:
                on_wait()
                waited = True
            if self._stop.wait(poll):
                conn.close()
                raise InterruptedError("stopped while waiting to lead")

    def watch(self, on_lost: Callable[[], None]) -> None:
        """Start checking the connection; ``on_lost`` is called (from a thread) if it breaks."""
        def check() -> None:
            while not self._stop.wait(CHECK_LEADERSHIP_EVERY):
                try:
                    self._conn.execute("SELECT 1")
                except psycopg.Error:
                    self._lost.set()
                    on_lost()
                    return
        self._thread = threading.Thread(target=check, name="leadership", daemon=True)
        self._thread.start()

    def lost(self) -> bool:
        return self._lost.is_set()

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(CHECK_LEADERSHIP_EVERY + 5)
        with contextlib.suppress(psycopg.Error):
            self._conn.close()  # the lock goes with the session
