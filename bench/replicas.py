"""9. PostgreSQL and replicas: the bot on SQLite, on PostgreSQL, and as two replicas on one
PostgreSQL database, like for like; and how soon the holds of a replica that dies are
ended by the other one.

Three set-ups, one after the other, each with a fresh stand-in, fresh bot process(es) and a
fresh database, all in **webhook mode** behind the same round-robin proxy (the end-to-end tests'
``tests/e2e/roundrobin.py``, run in the driver process): the stand-in POSTs every update to the
proxy, which hands it to the replicas in turn, skipping one that refuses the connection.

- ``sqlite``: one process, ``DATABASE_URL=sqlite:///...`` (the proxy has one upstream);
- ``pg1``: one replica, ``DATABASE_URL=postgresql://...``;
- ``pg2``: two replicas on the same PostgreSQL database.

The PostgreSQL server is a throwaway one (tests/pg.py) on 127.0.0.1 with its default
durability (fsync on, synchronous_commit on), started for this scenario and stopped at its
end. The limiter is off (``TELEGRAM_MAX_RATE=0``), ``FLOW_TIME_SCALE`` is
``cfg.replica_time_scale`` for every set-up (only holds last long; they are measured only in
the failover).

On each set-up: a start burst (as scenario 1), then button latency with people reading first
(as scenario 2's target rows). On ``pg2`` only, then: the failover. People are brought to
"I'm in position" and all tap it at once; the proxy notes which replica took each tap (that
replica armed the person's hold timers). The replica that took the most is SIGKILLed right
after the last hold message; every release ("Slowly return your leg") must then come from the
survivor, which takes over timers overdue by 1 s. Measured per hold: release recorded -
max(due, kill), due = the hold message's time + the hold's length. The killed replica is
started again before the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from back_care_guide.store import Store
from back_care_guide.store.postgresql import PostgresStore
from back_care_guide.store.records import Conversation, Profile, Timer
from back_care_guide.store.sqlite import SqliteStore
from back_care_guide.store.state import load_user_state, save_user_state
from bench.procs import CLOCK_TICKS, BotProcess, CpuMeter, Standin, standin
from bench.scenarios import (
    DEFAULT_HOLD_SECONDS,
    HALFWAY,
    HOLD,
    IN_POSITION,
    RELEASE_SINGLE,
    WELCOME_ASK,
    Config,
    Figure,
    Section,
    Users,
    _dir,
    _log_lines,
    _press_run,
    failure_note,
    fmt_cpu,
    fmt_runs,
    hold_seconds,
    median,
    percentile,
    script,
    settle,
    step,
    step_results,
    walk_to_position,
)
from tests.e2e.roundrobin import RoundRobinProxy

STORE_USERS = 1000  # stored people the per-event cost cycles through
STORE_WARMUP = 100  # events before the measured ones (caches, prepared statements)

LABEL = "9. postgres replicas"
HOST = "127.0.0.1"
SECRET = "bench-webhook-secret_0123"
WEBHOOK_PATH = "/telegram"
FAILOVER_TARGET = 3.0  # seconds after due: the figure
RELEASE_WAIT = 15.0  # seconds after the last due time a release may still come (else: lost)
PG_START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Setup:
    key: str
    name: str
    replicas: int
    postgres: bool


SETUPS = (
    Setup("sqlite", "SQLite, 1 process", 1, False),
    Setup("pg1", "PostgreSQL, 1 replica", 1, True),
    Setup("pg2", "PostgreSQL, 2 replicas", 2, True),
)

# ------------------------------------------------------------------ helpers


def taps_since(proxy: RoundRobinProxy, mark: int) -> dict[int, str]:
    """Which upstream answered (200) each person's callback query since ``proxy.forwarded[mark]``:
    the replica that took their tap."""
    found: dict[int, str] = {}
    for forwarded in proxy.forwarded[mark:]:
        try:
            update = json.loads(forwarded.body)
        except ValueError:
            continue
        query = update.get("callback_query") if isinstance(update, dict) else None
        if isinstance(query, dict) and isinstance(query.get("from"), dict) and forwarded.status == 200:
            found[int(query["from"]["id"])] = forwarded.upstream
    return found


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores, /proc/stat), to tell how much of a
    stretch went to processes other than the benchmark's (other people's tests, say)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def others(busy_before: float, wall: float, cpu: dict[str, float]) -> float:
    """Cores used by processes other than those in ``cpu`` over ``wall`` seconds."""
    return max(0.0, (machine_busy() - busy_before) / max(wall, 1e-9) - sum(cpu.values()))


def load_average() -> float:
    """The 1-minute load average: other work on the machine shows here."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return -1.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


# ------------------------------------------------------------------ replicas behind the proxy


@dataclass
class Cluster:
    api: Standin
    proxy: RoundRobinProxy
    folder: Path
    env: dict[str, str]
    ports: list[int]
    bots: list[BotProcess] = field(default_factory=list)
    killed: set[int] = field(default_factory=set)
    exit_codes: dict[int, list[int]] = field(default_factory=dict)  # per replica, every stop

    def upstream(self, index: int) -> str:
        return f"http://{HOST}:{self.ports[index]}"

    async def start(self, index: int) -> None:
        folder = self.folder / f"replica{index}"
        folder.mkdir(parents=True, exist_ok=True)
        bot = BotProcess("project", self.api, folder, {
            **self.env, "WEBHOOK_URL": self.proxy.url(WEBHOOK_PATH), "WEBHOOK_SECRET": SECRET,
            "WEBHOOK_LISTEN": HOST, "WEBHOOK_PORT": str(self.ports[index])})
        if index < len(self.bots):
            self.bots[index] = bot
        else:
            self.bots.append(bot)
        self.killed.discard(index)
        try:
            await bot.start()
        except BaseException:
            await bot.stop()
            raise

    async def kill(self, index: int) -> None:
        self.killed.add(index)
        self.exit_codes.setdefault(index, []).append(await self.bots[index].kill())

    def live(self) -> dict[str, int]:
        return {f"replica {i}": b.pid for i, b in enumerate(self.bots) if i not in self.killed}

    async def stop(self) -> None:
        running = [i for i in range(len(self.bots)) if i not in self.killed]
        codes = await asyncio.gather(*(self.bots[i].stop() for i in running), return_exceptions=True)
        for i, code in zip(running, codes, strict=True):
            self.exit_codes.setdefault(i, []).append(code if isinstance(code, int) else -1)


@contextlib.asynccontextmanager
async def cluster(api: Standin, folder: Path, replicas: int, env: dict[str, str]) -> AsyncIterator[Cluster]:
    """The proxy, then ``replicas`` bot processes started one after the other, each ready
    (``/healthz`` 200). Every process is stopped on the way out (SIGTERM, bounded)."""
    ports = [free_port() for _ in range(replicas)]
    async with RoundRobinProxy([f"http://{HOST}:{p}" for p in ports]) as proxy:
        group = Cluster(api, proxy, folder, env, ports)
        try:
            for index in range(replicas):
                await group.start(index)
            yield group
        finally:
            await group.stop()


# ------------------------------------------------------------------ one set-up


@dataclass
class SetupResult:
    burst: list[float] = field(default_factory=list)  # updates/s per run
    p50: list[float] = field(default_factory=list)  # ms per run
    p99: list[float] = field(default_factory=list)
    answered_twice: int = 0  # people with two welcomes, releases or halfway notes
    failover: list[float] = field(default_factory=list)  # s after max(due, kill), the killed one's holds
    failover_max: list[float] = field(default_factory=list)  # the max of each run
    survivor: list[float] = field(default_factory=list)  # the same for the survivor's holds
    unreleased: int = 0
    victim_holds: int = 0
    notes: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    error: str = ""
    load: list[float] = field(default_factory=list)  # load average at the start and the end


async def _burst_run(cfg: Config, api: Standin, group: Cluster, users: Users, run: int,
                     meter_trees: dict[str, int], out: SetupResult) -> None:
    ids = await users.new(cfg.burst_users)
    await settle(api)
    before = Counter(group.proxy.counts)
    meter = CpuMeter(group.live() | {"stand-in": api.pid}, meter_trees)
    busy = machine_busy()
    result = await script(api, ids, [step("command", "start")], timeout=30 + cfg.burst_users / 20)
    cpu = meter.read()
    wall = time.monotonic() - meter.started
    cpu["rest of the machine"] = others(busy, wall, cpu)
    answered = [r["first"] for r in step_results(result, 0) if r["first"] is not None]
    if not answered:
        out.notes.append(f"burst run {run}: no replies. {failure_note(result)}")
        return
    rate = len(answered) / (max(answered) - result["started"])
    out.burst.append(rate)
    per_update = sum(use for name, use in cpu.items() if name.startswith("replica")) * wall / len(answered)
    await settle(api)  # a second welcome, if any, comes meanwhile
    chosen = set(ids)
    welcomes = Counter(int(c) for c, _ in (await api.call("collect", text=WELCOME_ASK))["events"]
                       if int(c) in chosen)
    twice = sum(1 for k in welcomes.values() if k > 1)
    out.answered_twice += twice
    spread_over = ", ".join(f"{n}" for _, n in sorted((Counter(group.proxy.counts) - before).items()))
    spread_over += f" (proxy: failed attempts {sum(group.proxy.failures.values())}, " \
                   f"502/504 {group.proxy.bad_gateway} so far)"
    out.details.append(
        f"burst run {run}: {len(answered)}/{len(ids)} answered, {rate:.0f} updates/s; bot CPU per update "
        f"{per_update * 1000:.1f} ms (all replicas); requests per "
        f"replica {spread_over}; welcomed twice {twice}; CPU (1.0 = one core; driver = the proxy; rest of "
        "the machine = its busy time less these: the kernel's loopback traffic, other processes): "
        + fmt_cpu(cpu) + (f"; {failure_note(result)}" if result["failed"] else ""))


async def _button_run(cfg: Config, api: Standin, group: Cluster, users: Users, run: int,
                      meter_trees: dict[str, int], out: SetupResult) -> None:
    meter = CpuMeter(group.live() | {"stand-in": api.pid}, meter_trees)
    busy = machine_busy()
    done = await _press_run(api, "project", await users.new(cfg.button_users), cfg, cfg.button_think,
                            seed=run)
    cpu = meter.read()
    cpu["rest of the machine"] = others(busy, time.monotonic() - meter.started, cpu)
    if not done.latencies:
        out.notes.append(f"button run {run}: no replies. {failure_note(done.result)}")
        return
    out.p50.append(percentile(done.latencies, 50) * 1000)
    out.p99.append(percentile(done.latencies, 99) * 1000)
    out.details.append(
        f"button run {run}: {len(done.latencies)} replies ({cfg.button_users} users x {cfg.button_steps} "
        f"presses, reading {cfg.button_think[0]:g}-{cfg.button_think[1]:g} s first) in {done.span:.1f} s; "
        f"reply p50 {out.p50[-1]:.0f} ms, p99 {out.p99[-1]:.0f} ms, max {max(done.latencies) * 1000:.0f} ms; "
        "CPU over the run, preparation included: " + fmt_cpu(cpu)
        + (f"; {failure_note(done.result)}" if done.result["failed"] else ""))


async def _failover_run(cfg: Config, api: Standin, group: Cluster, users: Users, run: int,
                        out: SetupResult) -> None:
    """People mid-hold; the replica that armed most of their timers is SIGKILLed."""
    scale = cfg.replica_time_scale
    hold = DEFAULT_HOLD_SECONDS * scale
    people = await users.new(cfg.failover_people)
    ready = await walk_to_position(api, people, cfg, start=True, hold_seconds=hold)
    if len(ready) < len(people):
        out.notes.append(f"failover run {run}: {len(people) - len(ready)} people did not reach a hold")
    await settle(api)
    mark = len(group.proxy.forwarded)
    held = await script(api, ready, [step("click", IN_POSITION, HOLD, capture=True)], timeout=60)
    taps = taps_since(group.proxy, mark)
    due: dict[int, float] = {}
    for chat, runs in held["users"].items():
        if runs and runs[0]["match"] is not None:
            due[int(chat)] = runs[0]["match"] + hold_seconds(runs[0].get("text")) * scale
    if not due:
        raise RuntimeError(f"failover run {run}: nobody in a hold. {failure_note(held)}")
    # from here every release is awaited (the "none" step waits for the next new message with it)
    waiting = asyncio.create_task(script(api, list(due), [step("none", expect=RELEASE_SINGLE)],
                                         timeout=max(due.values()) - time.monotonic() + RELEASE_WAIT))
    armed_by = Counter(taps[c] for c in due if c in taps)
    victim = group.proxy.upstreams.index(armed_by.most_common(1)[0][0])
    victims = {c for c in due if taps.get(c) == group.upstream(victim)}
    killed_at = time.monotonic()
    await group.kill(victim)
    released = await waiting
    await settle(api, 1.0)  # a second release, if any, comes meanwhile
    chosen = set(due)
    twice = 0
    for text in (RELEASE_SINGLE, HALFWAY):
        got = Counter(int(c) for c, _ in (await api.call("collect", text=text))["events"] if int(c) in chosen)
        twice += sum(1 for k in got.values() if k > 1)
    out.answered_twice += twice
    at = {int(c): runs[0]["match"] for c, runs in released["users"].items()
          if runs and runs[0]["match"] is not None}
    late = {c: at[c] - max(due[c], killed_at) for c in at}
    theirs = [late[c] for c in victims if c in late]
    others = [late[c] for c in due if c in late and c not in victims]
    unreleased = len(due) - len(at)
    out.unreleased += unreleased
    out.victim_holds += len(victims)
    out.failover += theirs
    out.survivor += others
    if theirs:
        out.failover_max.append(max(theirs))
    first_due = min((due[c] for c in victims), default=killed_at)
    if killed_at >= first_due:
        out.notes.append(f"failover run {run}: the kill came {killed_at - first_due:.2f} s after a hold "
                         "was due")

    tapped = ", ".join(f"replica {group.proxy.upstreams.index(u)} {n}" for u, n in sorted(armed_by.items()))

    def summary(xs: list[float]) -> str:
        if not xs:
            return "-"
        return (f"p50 {percentile(xs, 50) * 1000:.0f} ms, max {max(xs) * 1000:.0f} ms, "
                f"min {min(xs) * 1000:.0f} ms")

    out.details.append(
        f"failover run {run}: {len(due)} people in a hold of {hold:g} s (FLOW_TIME_SCALE={scale:g}), "
        f"their taps taken by {tapped}; replica {victim} SIGKILLed "
        f"{first_due - killed_at:.2f} s before the first of its holds was due. Release after max(due, kill): "
        f"the killed replica's holds {summary(theirs)}; the survivor's {summary(others)}; "
        f"not released within {RELEASE_WAIT:g} s of due {unreleased}; sent twice {twice}; proxy: "
        f"failed attempts {sum(group.proxy.failures.values())}, 502/504 {group.proxy.bad_gateway}"
        + (f"; {failure_note(released)}" if released["failed"] else ""))


async def _measure(cfg: Config, work: Path, setup: Setup, database_url: str | None,
                   postmaster: int | None) -> SetupResult:
    out = SetupResult(load=[load_average()])
    folder = _dir(work, f"replicas-{setup.key}")
    env = {"FLOW_TIME_SCALE": f"{cfg.replica_time_scale:g}"}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    trees = {"postgres": postmaster} if postmaster is not None else {}
    group: Cluster | None = None
    try:
        async with standin(folder / "standin.log") as api, cluster(api, folder, setup.replicas, env) as group:
            users = Users(api)
            await script(api, await users.new(cfg.warmup_users), [step("command", "start")], timeout=60)
            await _press_run(api, "project", await users.new(cfg.warmup_users), cfg, None, seed=0)
            for run in range(1, cfg.runs + 1):
                await _burst_run(cfg, api, group, users, run, trees, out)
            for run in range(1, cfg.runs + 1):
                await _button_run(cfg, api, group, users, run, trees, out)
            if setup.replicas > 1:
                for run in range(1, cfg.runs + 1):
                    if group.killed:
                        for index in sorted(group.killed):
                            await group.start(index)  # the killed one comes back before the next run
                        await settle(api)
                    await _failover_run(cfg, api, group, users, run, out)
    except Exception as exc:  # the other set-ups still run
        out.error = f"{type(exc).__name__}: {exc}"[:300]
        out.details.append(f"failed: {out.error}")
    out.load.append(load_average())
    if group is not None:
        for index, bot in enumerate(group.bots):
            said = _log_lines(bot.log, "Traceback", "ERROR", "CRITICAL")
            if said:
                shown = said[:4] + ([f"... {len(said) - 4} more"] if len(said) > 4 else [])
                out.details.append(f"replica {index} log: " + "; ".join(f"`{line}`" for line in shown))
        stopped = {i: codes for i, codes in group.exit_codes.items()
                   if any(code not in (0, -9) for code in codes)}
        if stopped:
            out.details.append(f"exit codes other than 0 (stopped) or -9 (killed): {stopped}")
    return out


# ------------------------------------------------------------------ the scenario


def _skipped(reason: str, cfg: Config) -> Section:
    note = f"skipped: {reason}"
    figures = [Figure(LABEL, metric, target=target, note=note) for metric, target in _metrics(cfg)]
    return Section("postgres replicas", figures, [f"- {note}"])


def _metrics(cfg: Config) -> list[tuple[str, str]]:
    """The rows' metrics and targets, in order (also for a skipped or failed scenario)."""
    n = cfg.burst_users
    people = f"{cfg.button_users} users x {cfg.button_steps}, reading first"
    rows: list[tuple[str, str]] = []
    targets = {"sqlite": "", "pg1": "≥ 0.5 x SQLite", "pg2": "≥ 0.9 x 1 replica"}
    for s in SETUPS:
        rows.append((f"start burst, {n:,} x /start: updates/s, {s.name}", targets[s.key]))
    for s in SETUPS:
        rows.append((f"reply p50, {people}, {s.name}", ""))
        rows.append((f"reply p99, {people}, {s.name}", "< 100 ms"))
    rows += [
        (f"failover: release after due, max of the killed replica's holds ({cfg.failover_people} "
         "people mid-hold, 2 replicas)", f"≤ {FAILOVER_TARGET:g} s"),
        ("failover: holds never released", "0"),
        ("people answered twice (2 replicas: welcomes, releases, halfway notes)", "0"),
    ]
    for backend in ("SQLite", "PostgreSQL"):
        rows.append((f"store per event (a read, then a write transaction), {backend}: median", ""))
        rows.append((f"store per event (a read, then a write transaction), {backend}: p99", ""))
    return rows


async def store_cost(store: Store, events: int) -> list[float]:
    """Seconds per event through the bot's own store: a person's state read in one
    transaction and written in another, as the runtime does for each update."""
    users = STORE_USERS
    async with store.transaction() as tx:
        for uid in range(1, users + 1):
            await tx.conversations.save(Conversation(uid, "welcome", {"seq": 1}, [], None))
            await tx.profiles.save(Profile(uid))
    samples: list[float] = []
    for n in range(events + STORE_WARMUP):
        uid = 1 + n % users
        started = time.perf_counter()
        async with store.transaction() as tx:
            conv, profile = await load_user_state(tx, uid)
        assert conv is not None and profile is not None
        conv.ctx["seq"] = n
        conv.timers = [Timer("release", time.time() + 20, n)]
        async with store.transaction() as tx:
            await save_user_state(tx, conv, profile)
        if n >= STORE_WARMUP:
            samples.append(time.perf_counter() - started)
    return samples


async def postgres_replicas(cfg: Config, work: Path) -> Section:
    from tests.pg import PgError, PgServer, find_bindir  # the PostgreSQL harness, only here

    try:
        bindir = find_bindir()
    except PgError as exc:
        return _skipped(str(exc), cfg)
    if bindir is None:
        return _skipped("no PostgreSQL server binaries (set PG_BIN, or install postgresql)", cfg)
    try:
        server = await asyncio.to_thread(PgServer.start, bindir, durable=True, start_timeout=PG_START_TIMEOUT)
    except PgError as exc:
        return _skipped(f"the PostgreSQL server did not start: {str(exc)[:200]}", cfg)
    section = Section("postgres replicas")
    results: dict[str, SetupResult] = {}
    costs: dict[str, list[float]] = {}
    try:
        pid_text = (server.data / "postmaster.pid").read_text().split()
        postmaster = int(pid_text[0]) if pid_text else None
        section.details.append(
            f"- PostgreSQL {bindir.parent.name} ({bindir}) on 127.0.0.1, default durability (fsync on, "
            f"synchronous_commit on), initdb + start {server.started_in:.1f} s; the bot's default pools "
            "(DATABASE_POOL_SIZE 10, DATABASE_HOLDS 64); every set-up in webhook mode behind the "
            f"round-robin proxy; FLOW_TIME_SCALE={cfg.replica_time_scale:g}; TELEGRAM_MAX_RATE=0")
        for setup in SETUPS:
            url = None
            if setup.postgres:
                url = await asyncio.to_thread(server.create_database, f"bench_{setup.key}")
            results[setup.key] = await _measure(cfg, work, setup, url, postmaster if setup.postgres else None)
        events = cfg.store_events
        sqlite_store = SqliteStore(work / "store_cost.db")
        pg_store = PostgresStore.from_url(
            await asyncio.to_thread(server.create_database, "bench_store_cost"))
        for name, store in (("SQLite", sqlite_store), ("PostgreSQL", pg_store)):
            try:
                costs[name] = await store_cost(store, events)
            finally:
                await store.close()
        section.details.append(
            f"- store per event: {events:,} events over {STORE_USERS:,} stored people through the bot's "
            "own store (back_care_guide/store: load_user_state in one transaction, save_user_state in "
            "another), SQLite in WAL mode on this disk, PostgreSQL as above; one event at a time, "
            "so this is the round trips' cost, not throughput (bench/store_cost.py compares drivers "
            "and statement shapes)")
    finally:
        await asyncio.to_thread(server.stop)
    for setup in SETUPS:
        got = results[setup.key]
        section.details += [f"- {setup.name}: {line}" for line in got.details]
        section.details.append(f"- {setup.name}: machine load (1-minute load average, 2 = two busy cores "
                               f"here) at its start and end: {got.load[0]:.2f}, {got.load[1]:.2f}")
        if got.notes:
            section.details.append(f"- {setup.name}: notes: " + "; ".join(got.notes))
    section.figures = _figures(cfg, results)
    for name in ("SQLite", "PostgreSQL"):
        samples = costs.get(name)
        for quantile in (50, 99):
            value = None if not samples else percentile(samples, quantile) * 1e6
            section.figures.append(Figure(LABEL, f"store per event (a read, then a write transaction), "
                                          f"{name}: {'median' if quantile == 50 else 'p99'}",
                                          value, None, "µs"))
    return section


def _figures(cfg: Config, results: dict[str, SetupResult]) -> list[Figure]:
    metrics = iter(_metrics(cfg))
    figures: list[Figure] = []

    def note(key: str, values: list[float], digits: int = 0) -> str:
        got = results[key]
        if got.error:
            return f"failed: {got.error}"
        return "; ".join([f"runs: {fmt_runs(values, digits)}", *got.notes])

    burst = {k: median(r.burst) for k, r in results.items()}
    sqlite, pg1, pg2 = burst["sqlite"], burst["pg1"], burst["pg2"]
    passed: dict[str, bool | None] = {
        "sqlite": None,
        "pg1": None if pg1 is None or not sqlite else pg1 >= 0.5 * sqlite,
        "pg2": None if pg2 is None or not pg1 else pg2 >= 0.9 * pg1,
    }
    for setup in SETUPS:
        metric, target = next(metrics)
        ratio = ""
        if setup.key == "pg1" and pg1 is not None and sqlite:
            ratio = f"{pg1 / sqlite:.2f} x SQLite; "
        if setup.key == "pg2" and pg2 is not None and pg1:
            ratio = f"{pg2 / pg1:.2f} x 1 replica; "
        figures.append(Figure(LABEL, metric, burst[setup.key], None, "upd/s", target, passed[setup.key],
                              ratio + note(setup.key, results[setup.key].burst)))
    for setup in SETUPS:
        got = results[setup.key]
        metric, target = next(metrics)
        figures.append(Figure(LABEL, metric, median(got.p50), None, "ms", note=note(setup.key, got.p50)))
        metric, target = next(metrics)
        p99 = median(got.p99)
        figures.append(Figure(LABEL, metric, p99, None, "ms", target, None if p99 is None else p99 < 100,
                              note(setup.key, got.p99)))
    pg = results["pg2"]
    worst = max(pg.failover) * 1000 if pg.failover else None
    measured = not pg.error and pg.victim_holds > 0
    metric, target = next(metrics)
    figures.append(Figure(
        LABEL, metric, worst, None, "ms", target, None if worst is None else worst <= FAILOVER_TARGET * 1000,
        (f"failed: {pg.error}; " if pg.error else "")
        + f"from max(due time, SIGKILL) to the release message; {pg.victim_holds} holds on the killed "
        f"replica over {cfg.runs} run(s), runs' max {fmt_runs([x * 1000 for x in pg.failover_max])} ms"))
    metric, target = next(metrics)
    figures.append(Figure(LABEL, metric, pg.unreleased if measured else None, None, "", target,
                          pg.unreleased == 0 if measured else None))
    metric, target = next(metrics)
    figures.append(Figure(LABEL, metric, pg.answered_twice if measured else None, None, "", target,
                          pg.answered_twice == 0 if measured else None,
                          "other set-ups: " + ", ".join(f"{k} {r.answered_twice}" for k, r in results.items()
                                                        if k != "pg2")))
    return figures
