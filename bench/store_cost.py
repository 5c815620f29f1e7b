"""What one event costs the store: SQLite against PostgreSQL (psycopg 3, async).

    .venv/bin/python -m bench.store_cost [--users 1000] [--events 5000] [--concurrency 8]

One event does to the store what the runtime does for one update: load the user's
conversation (state, context, prompt, timers) and profile, then save state, context JSON,
timers and profile in one transaction. Rows:

* ``sqlite3``: the SQLite store's statements (copied here as they were before the storage layer,
  so the row stays comparable with the figures measured then) on a WAL file with
  synchronous=NORMAL, called synchronously like the store does on the event loop's thread.
* ``postgres ... as sqlite``: the same statements one round trip each (3 SELECTs; BEGIN, the
  upsert, DELETE, the timer INSERTs, the profile upsert, COMMIT), over one async connection.
* ``postgres ... pipelined``: one SELECT for everything, and the save transaction (BEGIN,
  the same statements, COMMIT) in psycopg's pipeline mode, sent together.
* ``postgres ... 2 statements``: one SELECT for everything, and one statement that saves
  everything (data-modifying CTEs; a statement is a transaction of its own): two round trips.
  What the PostgreSQL store does (back_care_guide/store/postgresql).
* ``... 8 users, pool``: as many users at once as ``--concurrency``, each event taking a
  connection from a psycopg_pool of that size, with the two statements; latency includes
  waiting for a connection, and events/s is the total throughput.

``sync commit on`` waits for the WAL to reach the disk at COMMIT (PostgreSQL's default);
``off`` does not (a crash may lose the last fraction of a second, never corrupt anything),
which is what SQLite's synchronous=NORMAL in WAL mode does too, so that row compares like
with like. The PostgreSQL server is a throwaway one (tests/pg.py) on 127.0.0.1 with its
default durability (fsync on), in a temporary folder like the SQLite file. It prints the
table and writes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from tests.pg import PgServer

FIRST_USER = 1_000_000_000  # Telegram-sized ids
WARMUP = 300  # events before measuring (statements prepared, caches warm)

# -------------------------------------------------------------------------- the data


@dataclass(frozen=True, slots=True)
class Event:
    """What one event writes: a mid-session user a few questions in, holding a stretch."""

    user_id: int
    state: str
    ctx: dict[str, Any]
    prompt: dict[str, Any]
    timers: list[tuple[str, float, int]]
    language: str = "en"
    country: str | None = "GB"
    hold: dict[str, Any] | None = None
    timezone: str | None = "Europe/London"
    active: bool = True
    extra: dict[str, Any] | None = None
    cleared: dict[str, Any] | None = None
    paused_by: str | None = None


def make_event(user_id: int, n: int) -> Event:
    """Event ``n`` of ``user_id``, shaped like the engine's own context (seq, epoch, the
    questions asked so far by seq, the answers, the session's start)."""
    seq = 1_795_978_500_000 + n
    steps = ("welcome", "screen_cauda", "screen_legs", "screen_back", "screen_health",
             "pain_before", "knee_to_chest", "twist_left")
    asked = {str(seq - len(steps) + i + 1): step for i, step in enumerate(steps)}
    now = 1_795_978_501.0 + n
    return Event(
        user_id=user_id,
        state="knee_to_chest" if n % 2 else "twist_left",
        ctx={"seq": seq, "epoch": n, "asked": asked, "started_at": now - 120.0,
             "pain_before": 4, "reps": n % 5},
        prompt={"ref": 5000 + n, "text": "Hold the stretch gently. Breathe.", "seq": seq,
                "picture": True, "latest": True},
        timers=[("hold", now + 20.0, n), ("halfway", now + 10.0, n)],
        extra={"reminder_hint": True},
        cleared={},
    )


def _dumps(value: object) -> str | None:
    return None if value is None else json.dumps(value)


# -------------------------------------------------------------------------- SQLite
# The schema of back_care_guide/store/sqlite.py at SCHEMA_VERSION 2 (version 1 plus its migration).

SQLITE_SCHEMA = """
CREATE TABLE conversations (
    user_id INTEGER PRIMARY KEY, state TEXT NOT NULL, ctx TEXT NOT NULL, prompt TEXT,
    updated_at REAL NOT NULL);
CREATE TABLE timers (
    user_id INTEGER NOT NULL, kind TEXT NOT NULL, due REAL NOT NULL, epoch INTEGER NOT NULL,
    PRIMARY KEY (user_id, kind));
CREATE INDEX timers_due ON timers (due);
CREATE TABLE profiles (
    user_id INTEGER PRIMARY KEY, language TEXT, country TEXT, locked_sign TEXT, timezone TEXT,
    active INTEGER NOT NULL DEFAULT 1, extra TEXT NOT NULL DEFAULT '{}', hold TEXT,
    cleared TEXT NOT NULL DEFAULT '{}', paused_by TEXT);
"""

SQLITE_UPSERT_CONVERSATION = (
    "INSERT INTO conversations (user_id, state, ctx, prompt, updated_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, ctx = excluded.ctx,"
    " prompt = excluded.prompt, updated_at = excluded.updated_at")
SQLITE_UPSERT_PROFILE = (
    "INSERT INTO profiles (user_id, language, country, hold, timezone, active,"
    " extra, cleared, paused_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (user_id) DO UPDATE SET"
    " language = excluded.language, country = excluded.country,"
    " hold = excluded.hold, timezone = excluded.timezone,"
    " active = excluded.active, extra = excluded.extra,"
    " cleared = excluded.cleared, paused_by = excluded.paused_by")


def sqlite_open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout=5000")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA cache_size=-512")
    db.executescript(SQLITE_SCHEMA)
    return db


def sqlite_load(db: sqlite3.Connection, uid: int) -> tuple[Any, ...]:
    row = db.execute("SELECT state, ctx, prompt FROM conversations WHERE user_id = ?",
                     (uid,)).fetchone()
    timers = [tuple(t) for t in db.execute(
        "SELECT kind, due, epoch FROM timers WHERE user_id = ? ORDER BY due", (uid,))]
    prow = db.execute(
        "SELECT language, country, hold, timezone, active, extra, cleared, paused_by"
        " FROM profiles WHERE user_id = ?", (uid,)).fetchone()
    return (row[0], json.loads(row[1]), json.loads(row[2]) if row[2] else None, timers,
            prow[0], prow[1], json.loads(prow[2]) if prow[2] else None, prow[3], bool(prow[4]),
            json.loads(prow[5]), json.loads(prow[6]), prow[7])


def sqlite_save(db: sqlite3.Connection, ev: Event) -> None:
    uid = ev.user_id
    db.execute("BEGIN")
    try:
        db.execute(SQLITE_UPSERT_CONVERSATION,
                   (uid, ev.state, json.dumps(ev.ctx), _dumps(ev.prompt), time.time()))
        db.execute("DELETE FROM timers WHERE user_id = ?", (uid,))
        db.executemany("INSERT INTO timers (user_id, kind, due, epoch) VALUES (?, ?, ?, ?)",
                       [(uid, kind, due, epoch) for kind, due, epoch in ev.timers])
        db.execute(SQLITE_UPSERT_PROFILE,
                   (uid, ev.language, ev.country, _dumps(ev.hold), ev.timezone, int(ev.active),
                    json.dumps(ev.extra or {}), json.dumps(ev.cleared or {}), ev.paused_by))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def bench_sqlite(folder: Path, users: int, events: int, warmup: int) -> list[float]:
    db = sqlite_open(folder / "bench.db")
    try:
        for i in range(users):
            sqlite_save(db, make_event(FIRST_USER + i, 0))
        samples: list[float] = []
        for n in range(warmup + events):
            uid = FIRST_USER + n % users
            ev = make_event(uid, n + 1)
            started = time.perf_counter()
            sqlite_load(db, uid)
            sqlite_save(db, ev)
            if n >= warmup:
                samples.append(time.perf_counter() - started)
        return samples
    finally:
        db.close()


# -------------------------------------------------------------------------- PostgreSQL

PG_SCHEMA = """
CREATE TABLE conversations (
    user_id BIGINT PRIMARY KEY, state TEXT NOT NULL, ctx JSONB NOT NULL, prompt JSONB,
    updated_at DOUBLE PRECISION NOT NULL);
CREATE TABLE timers (
    user_id BIGINT NOT NULL, kind TEXT NOT NULL, due DOUBLE PRECISION NOT NULL,
    epoch BIGINT NOT NULL, PRIMARY KEY (user_id, kind));
CREATE INDEX timers_due ON timers (due);
CREATE TABLE profiles (
    user_id BIGINT PRIMARY KEY, language TEXT, country TEXT, timezone TEXT,
    active BOOLEAN NOT NULL DEFAULT TRUE, extra JSONB NOT NULL DEFAULT '{}', hold JSONB,
    cleared JSONB NOT NULL DEFAULT '{}', paused_by TEXT);
"""

PG_UPSERT_CONVERSATION = (
    "INSERT INTO conversations (user_id, state, ctx, prompt, updated_at)"
    " VALUES (%s, %s, %s, %s, %s)"
    " ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, ctx = excluded.ctx,"
    " prompt = excluded.prompt, updated_at = excluded.updated_at")
PG_DELETE_TIMERS = "DELETE FROM timers WHERE user_id = %s"
PG_INSERT_TIMER = "INSERT INTO timers (user_id, kind, due, epoch) VALUES (%s, %s, %s, %s)"
PG_UPSERT_PROFILE = (
    "INSERT INTO profiles (user_id, language, country, hold, timezone, active,"
    " extra, cleared, paused_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (user_id) DO UPDATE SET"
    " language = excluded.language, country = excluded.country,"
    " hold = excluded.hold, timezone = excluded.timezone,"
    " active = excluded.active, extra = excluded.extra,"
    " cleared = excluded.cleared, paused_by = excluded.paused_by")
# Everything saved in one statement, so one round trip and one transaction. The timers become
# the event's set: those not in it are deleted, the others inserted or updated (deleting all and
# inserting again, as SQLite does, would collide with itself within one statement).
PG_SAVE_ONE = """
WITH conversation AS (
    INSERT INTO conversations (user_id, state, ctx, prompt, updated_at)
    VALUES (%(uid)s, %(state)s, %(ctx)s, %(prompt)s, %(now)s)
    ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, ctx = excluded.ctx,
        prompt = excluded.prompt, updated_at = excluded.updated_at
), gone AS (
    DELETE FROM timers WHERE user_id = %(uid)s AND kind <> ALL (%(kinds)s::text[])
), timer AS (
    INSERT INTO timers (user_id, kind, due, epoch)
    SELECT %(uid)s, t.kind, t.due, t.epoch
    FROM unnest(%(kinds)s::text[], %(dues)s::float8[], %(epochs)s::bigint[]) AS t (kind, due, epoch)
    ON CONFLICT (user_id, kind) DO UPDATE SET due = excluded.due, epoch = excluded.epoch
)
INSERT INTO profiles (user_id, language, country, hold, timezone, active, extra, cleared, paused_by)
VALUES (%(uid)s, %(language)s, %(country)s, %(hold)s, %(timezone)s, %(active)s, %(extra)s,
        %(cleared)s, %(paused_by)s)
ON CONFLICT (user_id) DO UPDATE SET language = excluded.language, country = excluded.country,
    hold = excluded.hold, timezone = excluded.timezone, active = excluded.active,
    extra = excluded.extra, cleared = excluded.cleared, paused_by = excluded.paused_by
"""
# Everything about one user in one statement (a user may have a profile and no conversation).
PG_LOAD_ONE = (
    "SELECT c.state, c.ctx, c.prompt,"
    " (SELECT coalesce(json_agg(json_build_array(t.kind, t.due, t.epoch) ORDER BY t.due), '[]')"
    "  FROM timers t WHERE t.user_id = k.user_id),"
    " p.language, p.country, p.hold, p.timezone, p.active, p.extra, p.cleared, p.paused_by"
    " FROM (SELECT %s::bigint AS user_id) k"
    " LEFT JOIN conversations c ON c.user_id = k.user_id"
    " LEFT JOIN profiles p ON p.user_id = k.user_id")

Conn = psycopg.AsyncConnection[TupleRow]
Load = Callable[[Conn, int], Awaitable[object]]
Save = Callable[[Conn, Event], Awaitable[None]]


def _conversation_params(ev: Event) -> tuple[object, ...]:
    return (ev.user_id, ev.state, Jsonb(ev.ctx), Jsonb(ev.prompt), time.time())


def _profile_params(ev: Event) -> tuple[object, ...]:
    return (ev.user_id, ev.language, ev.country, None if ev.hold is None else Jsonb(ev.hold),
            ev.timezone, ev.active, Jsonb(ev.extra or {}), Jsonb(ev.cleared or {}), ev.paused_by)


def _timer_rows(ev: Event) -> list[tuple[object, ...]]:
    return [(ev.user_id, kind, due, epoch) for kind, due, epoch in ev.timers]


async def pg_load_as_sqlite(conn: Conn, uid: int) -> object:
    row = await (await conn.execute(
        "SELECT state, ctx, prompt FROM conversations WHERE user_id = %s", (uid,))).fetchone()
    timers = await (await conn.execute(
        "SELECT kind, due, epoch FROM timers WHERE user_id = %s ORDER BY due", (uid,))).fetchall()
    prow = await (await conn.execute(
        "SELECT language, country, hold, timezone, active, extra, cleared, paused_by"
        " FROM profiles WHERE user_id = %s", (uid,))).fetchone()
    return row, timers, prow


async def pg_save_as_sqlite(conn: Conn, ev: Event) -> None:
    async with conn.transaction():
        await conn.execute(PG_UPSERT_CONVERSATION, _conversation_params(ev))
        await conn.execute(PG_DELETE_TIMERS, (ev.user_id,))
        async with conn.cursor() as cur:
            await cur.executemany(PG_INSERT_TIMER, _timer_rows(ev))
        await conn.execute(PG_UPSERT_PROFILE, _profile_params(ev))


async def pg_load_one(conn: Conn, uid: int) -> object:
    return await (await conn.execute(PG_LOAD_ONE, (uid,))).fetchone()


async def pg_save_one(conn: Conn, ev: Event) -> None:
    await conn.execute(PG_SAVE_ONE, {
        "uid": ev.user_id, "state": ev.state, "ctx": Jsonb(ev.ctx), "prompt": Jsonb(ev.prompt),
        "now": time.time(), "kinds": [kind for kind, _, _ in ev.timers],
        "dues": [due for _, due, _ in ev.timers], "epochs": [epoch for _, _, epoch in ev.timers],
        "language": ev.language, "country": ev.country,
        "hold": None if ev.hold is None else Jsonb(ev.hold), "timezone": ev.timezone,
        "active": ev.active, "extra": Jsonb(ev.extra or {}), "cleared": Jsonb(ev.cleared or {}),
        "paused_by": ev.paused_by})


async def pg_save_pipelined(conn: Conn, ev: Event) -> None:
    # BEGIN, the statements and COMMIT go out together; the transaction's end waits for all
    # of their results (an error in any of them is raised there, and nothing is committed).
    async with conn.pipeline(), conn.transaction():
        await conn.execute(PG_UPSERT_CONVERSATION, _conversation_params(ev))
        await conn.execute(PG_DELETE_TIMERS, (ev.user_id,))
        async with conn.cursor() as cur:
            await cur.executemany(PG_INSERT_TIMER, _timer_rows(ev))
        await conn.execute(PG_UPSERT_PROFILE, _profile_params(ev))


async def _configure(conn: Conn, sync_commit: bool) -> None:
    await conn.execute(f"SET synchronous_commit = {'on' if sync_commit else 'off'}")


async def pg_populate(url: str, users: int) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(PG_SCHEMA.encode())
        await conn.commit()
        for i in range(users):
            await pg_save_one(conn, make_event(FIRST_USER + i, 0))
        await conn.execute("ANALYZE")


async def check_committed(url: str, since: float, users: int, events: int) -> None:
    """Another session sees what the events saved (else the timing is void): every user
    touched since ``since`` has a newer conversation and exactly the event's two timers."""
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT count(*), (SELECT count(*) FROM timers) FROM conversations WHERE updated_at >= %s",
            (since,))
        fresh, timers = await cur.fetchone() or (0, 0)
    if fresh < min(users, events) or timers != 2 * users:
        raise RuntimeError(f"the events were not all committed ({fresh} users saved, {timers} "
                           "timers): the timing is void")


async def pg_serial(url: str, load: Load, save: Save, users: int, events: int, warmup: int,
                    sync_commit: bool) -> list[float]:
    # autocommit: a statement outside ``transaction()`` is a transaction of its own (psycopg
    # would otherwise open one and keep it open until commit()).
    since = time.time()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await _configure(conn, sync_commit)
        samples: list[float] = []
        for n in range(warmup + events):
            uid = FIRST_USER + n % users
            ev = make_event(uid, n + 1)
            started = time.perf_counter()
            await load(conn, uid)
            await save(conn, ev)
            if n >= warmup:
                samples.append(time.perf_counter() - started)
    await check_committed(url, since, users, warmup + events)
    return samples


async def pg_concurrent(url: str, load: Load, save: Save, users: int, events: int, warmup: int,
                        sync_commit: bool, concurrency: int) -> tuple[list[float], float]:
    """``concurrency`` users at once over a pool of as many connections; each worker has its
    own users (as one replica serialises a user's events). Returns the latencies and the
    wall time of the measured events."""

    async def configure(conn: Conn) -> None:
        await _configure(conn, sync_commit)

    pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
        url, min_size=concurrency, max_size=concurrency, open=False, configure=configure,
        kwargs={"autocommit": True})
    await pool.open(wait=True, timeout=30)
    since = time.time()
    try:
        samples: list[float] = []
        per_worker = max(1, events // concurrency)

        async def worker(w: int, record: bool, count: int) -> None:
            mine = [FIRST_USER + i for i in range(w, users, concurrency)]
            for n in range(count):
                uid = mine[n % len(mine)]
                ev = make_event(uid, n + 1)
                started = time.perf_counter()
                async with pool.connection() as conn:
                    await load(conn, uid)
                    await save(conn, ev)
                if record:
                    samples.append(time.perf_counter() - started)

        async with asyncio.TaskGroup() as tg:  # warm-up: every connection prepares its statements
            for w in range(concurrency):
                tg.create_task(worker(w, False, warmup // concurrency + 1))
        started = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for w in range(concurrency):
                tg.create_task(worker(w, True, per_worker))
        wall = time.perf_counter() - started
        await check_committed(url, since, users, len(samples))
        return samples, wall
    finally:
        await pool.close()


# -------------------------------------------------------------------------- report


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f}"


def row(label: str, samples: list[float], wall: float | None = None) -> str:
    median = statistics.median(samples)
    p99 = statistics.quantiles(samples, n=100)[98]
    rate = len(samples) / (wall if wall is not None else sum(samples))
    return f"{label:<52} {us(median):>9} {us(p99):>9} {rate:>10,.0f}"


async def bench_postgres(users: int, events: int, warmup: int, concurrency: int) -> list[str]:
    with PgServer.start(durable=True) as server:
        url = server.create_database("bench")
        await pg_populate(url, users)
        async with await psycopg.AsyncConnection.connect(url) as conn:
            version = (await (await conn.execute("SHOW server_version")).fetchone() or ("?",))[0]
        lines = [f"PostgreSQL {version} on 127.0.0.1 (throwaway server, fsync on, "
                 f"started in {server.started_in:.2f} s)"]
        variants: list[tuple[str, Load, Save]] = [
            ("as sqlite (~9 trips)", pg_load_as_sqlite, pg_save_as_sqlite),
            ("pipelined", pg_load_one, pg_save_pipelined),
            ("2 statements", pg_load_one, pg_save_one),
        ]
        for sync_commit in (True, False):
            commit = f"sync commit {'on' if sync_commit else 'off'}"
            for name, load, save in variants:
                samples = await pg_serial(url, load, save, users, events, warmup, sync_commit)
                lines.append(row(f"postgres, 1 conn, {name}, {commit}", samples))
            name, load, save = variants[-1]
            samples, wall = await pg_concurrent(url, load, save, users, events, warmup,
                                                sync_commit, concurrency)
            lines.append(row(f"postgres, {concurrency} users, pool, {name}, {commit}", samples, wall))
        return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=1000, help="stored users (rows)")
    parser.add_argument("--events", type=int, default=5000, help="measured events per row")
    parser.add_argument("--concurrency", type=int, default=8, help="users at once over the pool")
    parser.add_argument("--warmup", type=int, default=WARMUP, help="unmeasured events first, per row")
    args = parser.parse_args()
    print("per event: load conversation + timers + profile, save them in one transaction")
    print(f"users: {args.users}, events per row: {args.events} (after {args.warmup} warm-up); "
          f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    header = f"{'':<52} {'median µs':>9} {'p99 µs':>9} {'events/s':>10}"
    with tempfile.TemporaryDirectory(prefix="store-cost-") as tmp:
        sqlite_samples = bench_sqlite(Path(tmp), args.users, args.events, args.warmup)
        pg_lines = asyncio.run(bench_postgres(args.users, args.events, args.warmup,
                                                 args.concurrency))
    print(pg_lines[0])
    print(header)
    print(row("sqlite3, WAL, synchronous=NORMAL (today)", sqlite_samples))
    for line in pg_lines[1:]:
        print(line)


if __name__ == "__main__":
    main()
