"""The load scenarios: each starts its own stand-in and bot process(es) and returns figures.

Every time below is the stand-in's ``time.monotonic()``: when it injected an update and
when it recorded the bot's answer (the recorder's event time). Nothing compares clocks
across processes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import re
import sqlite3
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.procs import BotProcess, CpuMeter, Standin, memory_kib, standin

JSONDict = dict[str, Any]

# What the users see and tap (flows/locales/en.yaml).
WELCOME_ASK = "Shall we start?"
AGREE = "let's start"
NO = "None of these"  # the last button of every screening list (triage.none)
# The screening prompts in order: four lists (screen.intro/two/three/four), then the pain
# rating that "None of these" on the fourth list leads to (rating.before).
QUESTIONS = ("Safety check, 1 of 4", "Safety check, 2 of 4", "Safety check, 3 of 4",
             "Safety check, 4 of 4", "how much does your back hurt")
IN_POSITION = "in position"
HOLD = "Hold"  # the hold messages: "... Hold for 20 seconds ..." / "Hold the gentle twist ..."
HOLD_SECONDS = re.compile(r"[Hh]old (?:for|the gentle twist for) (\d+) seconds")
RELEASE_SINGLE = "Slowly return your leg"  # after a one-knee hold
RELEASE_BOTH = "Slowly lower your legs"  # after the both-knees hold (third timer run)
RED_FLAG = "my left leg went numb all the way down"  # leg_numbness: urgent tier
URGENT = "get medical help now"  # triage.message.urgent (matched case-insensitively)
REMINDER_TEXT = "gentle back routine"  # the reminder message (remind.nudge)
HALFWAY = "Halfway there"  # hold.halfway, the message in the middle of a hold
LONGER = "Longer"  # the hold-length choice that makes the knee-to-chest hold 30 s
URGENT_RED_FLAG = "my left leg went numb all the way down to my foot"  # scenario 7 (leg_numbness)
# Buttons the preparation presses to reach the next "I'm in position" prompt.
WALK_PREFER = ["let's start", "No pain, next", "both knees", "Standard", NO, "0"]
HOLDS_PER_SESSION = 5  # left knee, right knee, both knees, twist left, twist right
DEFAULT_HOLD_SECONDS = 20


@dataclass
class Config:
    runs: int = 3
    quick: bool = False
    burst_users: int = 3000
    button_users: int = 200
    button_steps: int = 3
    button_think: tuple[float, float] = (1.0, 3.0)  # seconds a person reads before a tap
    memory_sessions: int = 10_000
    timer_users: int = 1000
    emergency_users: int = 500
    emergency_flagged: int = 50
    time_scale: float = 0.75  # a 20-second hold lasts 15 s
    timer_ramp: float = 0.9  # the "in position" presses are spread over this share of a hold
    emergency_ramp: float = 0.5
    warmup_users: int = 50
    prep_concurrency: int = 8  # users prepared at a time (preparation is not measured)
    idle_evict: float = 2.0
    memory_active_evict: float = 3600.0
    bots: tuple[str, ...] = ("echo", "project")  # which bots the comparative scenarios run
    reminder_users: int = 2000  # one reminder each, all due at the same instant
    reminder_rate: float = 25.0  # REMINDER_RATE, the production default
    telegram_max_rate: float = 30.0  # TELEGRAM_MAX_RATE, the production default (reminders only)
    reminder_lead: float = 3.0  # seconds from making them due to the due instant (the bot is up)
    reminder_tail: float = 3.0  # seconds to wait for late duplicates after everyone got one
    flood_global_rate: float = 30.0  # the stand-in's flood control, reminder bursts only
    burst_talkers: int = 10  # people answering questions during a second reminder burst
    talk_reminders: int = 1000  # that burst's size
    talk_think: tuple[float, float] = (1.0, 3.0)  # their reading time (Telegram: ~1 message/s per chat)
    urgent_burst: int = 1000  # 7: /start at once from other users, with the limiter on
    urgent_people: int = 20  # 7: people mid-hold who then type a red flag
    urgent_time_scale: float = 1.0  # 7: FLOW_TIME_SCALE (1: "Longer" is a real 30 s hold)
    urgent_refill: float = 1.5  # 7: seconds from a person's hold message to the burst
    urgent_behind: float = 0.5  # 7: share of the red flags typed right behind the burst

    session_users: int = 50  # scenario 8: people completing a whole session side by side
    store_events: int = 5000  # events measured for the per-event store cost (scenario 9)
    failover_people: int = 20  # 9: people mid-hold when the replica that armed their timers dies
    replica_time_scale: float = 0.25  # 9: FLOW_TIME_SCALE (the 20 s knee-to-chest hold lasts 5 s)

    @classmethod
    def quick_config(cls, runs: int = 1) -> Config:
        return cls(runs=runs, quick=True, burst_users=40, button_users=20, button_think=(0.1, 0.3),
                   memory_sessions=200, timer_users=40, emergency_users=20, emergency_flagged=5,
                   time_scale=0.1, warmup_users=5, reminder_users=100,
                   burst_talkers=3, talk_reminders=50, talk_think=(1.0, 1.2),
                   urgent_burst=200, urgent_people=5, urgent_time_scale=0.5, session_users=3,
                   failover_people=6, replica_time_scale=0.15, store_events=300)


@dataclass
class Figure:
    """One row of the table."""

    scenario: str
    metric: str
    project: float | None = None
    echo: float | None = None
    unit: str = ""
    target: str = ""
    passed: bool | None = None  # None: no target, or not measured
    note: str = ""
    ratio: float | None = None

    def __post_init__(self) -> None:
        if self.ratio is None and self.project is not None and self.echo:
            self.ratio = self.project / self.echo


@dataclass
class Section:
    """What one scenario produced: rows for the table, and details for BENCHMARKS.md."""

    name: str
    figures: list[Figure] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    seconds: float = 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def fmt_runs(values: Sequence[float], digits: int = 0) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)


def fmt_cpu(cpu: dict[str, float]) -> str:
    """CPU use per process, as read by :class:`CpuMeter` (1.0 = one core)."""
    return ", ".join(f"{name} {use:.2f}" for name, use in cpu.items())


# ------------------------------------------------------------------ driving helpers


def step(do: str, arg: str = "", expect: str = "", capture: bool = False) -> JSONDict:
    return {"do": do, "arg": arg, "expect": expect, "capture": capture}


class Users:
    """Allocates fresh user ids in one stand-in."""

    def __init__(self, api: Standin) -> None:
        self.api = api
        self.next_id = 1001

    async def new(self, count: int) -> list[int]:
        first = self.next_id
        self.next_id += count
        await self.api.call("add_users", first_id=first, count=count)
        return list(range(first, first + count))


async def script(api: Standin, ids: list[int], steps: list[JSONDict], timeout: float,
                 at: list[float] | None = None, concurrency: int = 0,
                 think: tuple[float, float] | None = None, seed: int = 0) -> JSONDict:
    args: JSONDict = {"chat_ids": ids, "steps": steps, "timeout": timeout, "concurrency": concurrency}
    if at is not None:
        args["at"] = at
    if think is not None:
        args["think"] = list(think)
        args["seed"] = seed
    result: JSONDict = await api.call("script", **args)
    return result


def step_results(result: JSONDict, index: int) -> list[JSONDict]:
    """Every user's result for step ``index`` (users that got that far)."""
    return [runs[index] for runs in result["users"].values() if len(runs) > index]


def latencies(result: JSONDict, index: int, key: str = "first") -> list[float]:
    return [r[key] - r["t0"] for r in step_results(result, index)
            if r.get(key) is not None and r.get("t0") is not None]


def failure_note(result: JSONDict) -> str:
    if not result["failed"]:
        return ""
    return f"{result['failed']} users failed (first: {result['errors'][:1]})"


async def prepare_screening(api: Standin, ids: list[int], cfg: Config) -> JSONDict:
    """/start and agree: every user is at the first screening list (not measured)."""
    return await script(api, ids, [step("command", "start", WELCOME_ASK),
                                   step("click", AGREE, QUESTIONS[0])],
                        timeout=60 + len(ids) * 0.05, concurrency=cfg.prep_concurrency)


async def settle(api: Standin, quiet_for: float = 0.5) -> None:
    await api.call("wait_quiet", quiet_for=quiet_for, timeout=60.0)


# ------------------------------------------------------------------ 1. start burst


async def start_burst(cfg: Config, work: Path) -> Section:
    section = Section("start burst")
    rates: dict[str, list[float]] = {"echo": [], "project": [], "echo-aiohttp": []}
    injection: list[float] = []
    notes: list[str] = []
    kinds = (*cfg.bots, "echo-aiohttp") if "echo" in cfg.bots else cfg.bots
    for kind in kinds:
        folder = _dir(work, f"burst-{kind}")
        async with standin(folder / "standin.log") as api, BotProcess(kind, api, folder) as bot:
            users = Users(api)
            await script(api, await users.new(cfg.warmup_users), [step("command", "start")], timeout=60)
            for run in range(cfg.runs):
                ids = await users.new(cfg.burst_users)
                await settle(api)
                meter = CpuMeter({"bot": bot.pid, "stand-in": api.pid})
                result = await script(api, ids, [step("command", "start")], timeout=30 + cfg.burst_users / 20)
                cpu = meter.read()
                answered = [r["first"] for r in step_results(result, 0) if r["first"] is not None]
                if not answered:
                    notes.append(f"{kind} run {run + 1}: no replies. {failure_note(result)}")
                    continue
                rate = len(answered) / (max(answered) - result["started"])
                inject_rate = result["injected"] / max(result["inject_seconds"], 1e-6)
                rates[kind].append(rate)
                injection.append(inject_rate)
                section.details.append(
                    f"- {kind} run {run + 1}: {len(answered)}/{len(ids)} answered, {rate:.0f} updates/s; "
                    f"driver injected {result['injected']} updates in "
                    f"{result['inject_seconds'] * 1000:.0f} ms "
                    f"({inject_rate:,.0f}/s); CPU (1.0 = one core): "
                    + fmt_cpu(cpu)
                    + (f"; {failure_note(result)}" if result["failed"] else ""))
    handled = [r for rs in rates.values() for r in rs]
    if injection and handled:
        section.details.append(
            f"- driver check: the slowest injection ({min(injection):,.0f} updates/s) was "
            f"{min(injection) / max(handled):.0f} times the fastest handling rate ({max(handled):.0f}/s); "
            "every burst was queued before the bot's next getUpdates")
    project, echo = median(rates["project"]), median(rates["echo"])
    ratio = project / echo if project is not None and echo else None
    section.figures.append(Figure(
        "1. start burst", f"{cfg.burst_users} x /start: updates/s to each first reply", project, echo,
        "upd/s", "≥ 0.8 x echo", None if ratio is None else ratio >= 0.8,
        "; ".join(notes) or f"runs: project {fmt_runs(rates['project'])}; echo {fmt_runs(rates['echo'])}"))
    if rates["echo-aiohttp"]:
        section.figures.append(Figure(
            "1. start burst", "the same, echo bot given the project's aiohttp client (equal terms)",
            project, median(rates["echo-aiohttp"]), "upd/s",
            note=f"runs: echo-aiohttp {fmt_runs(rates['echo-aiohttp'])}"))
    return section


# ------------------------------------------------------------------ 2. button latency


@dataclass
class PressFigures:
    """One bot's figures for one way of pressing, collected over the runs."""

    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    rate: list[float] = field(default_factory=list)  # presses answered per second


@dataclass
class PressRun:
    latencies: list[float]  # seconds, press queued -> reply
    span: float  # seconds, first press queued -> last reply
    result: JSONDict


async def _press_run(api: Standin, kind: str, ids: list[int], cfg: Config,
                     think: tuple[float, float] | None, seed: int) -> PressRun:
    """Bring ``ids`` to the first screening list, then let each press ``button_steps`` times.

    The reply is the project's next list (or the pain rating), or the echo bot's one message.
    """
    if kind == "project":
        prep = await prepare_screening(api, ids, cfg)
        steps = [step("click", NO, QUESTIONS[i + 1]) for i in range(cfg.button_steps)]
        key = "match"
    else:
        prep = await script(api, ids, [step("command", "start")], timeout=60,
                            concurrency=cfg.prep_concurrency)
        steps = [step("press_raw", "x") for _ in range(cfg.button_steps)]
        key = "first"
    if prep["failed"]:
        raise RuntimeError(f"{kind} preparation: {failure_note(prep)}")
    await settle(api)
    reading = 0.0 if think is None else think[1] * cfg.button_steps
    result = await script(api, ids, steps, timeout=30 + len(ids) * cfg.button_steps / 10 + reading,
                          think=think, seed=seed)
    replies = [r for i in range(cfg.button_steps) for r in step_results(result, i)
               if r.get(key) is not None and r.get("t0") is not None]
    span = max((r[key] for r in replies), default=result["started"]) - min(
        (r["t0"] for r in replies), default=result["started"])
    return PressRun([r[key] - r["t0"] for r in replies], span, result)


async def button_latency(cfg: Config, work: Path) -> Section:
    """Two ways of pressing, each with fresh users at the first screening list.

    People (the target): every user reads each question for a random 1-3 s before tapping.
    At once: all press together and again the moment the next question arrives (a closed
    loop with no reading time): the most one process can answer, a capacity figure.
    """
    section = Section("button latency")
    modes: dict[str, tuple[float, float] | None] = {"people": cfg.button_think, "at once": None}
    figures = {(kind, mode): PressFigures() for kind in cfg.bots for mode in modes}
    for kind in cfg.bots:
        folder = _dir(work, f"button-{kind}")
        async with standin(folder / "standin.log") as api, BotProcess(kind, api, folder):
            users = Users(api)
            for run in range(cfg.runs + 1):  # run 0 warms up
                count = cfg.warmup_users if run == 0 else cfg.button_users
                for mode, think in modes.items():
                    done = await _press_run(api, kind, await users.new(count), cfg, think, seed=run)
                    if run == 0:
                        continue
                    label = f"- {kind}, {mode}, run {run}:"
                    if not done.latencies:
                        section.details.append(f"{label} no replies. {failure_note(done.result)}")
                        continue
                    fig = figures[(kind, mode)]
                    fig.p50.append(percentile(done.latencies, 50) * 1000)
                    fig.p99.append(percentile(done.latencies, 99) * 1000)
                    fig.rate.append(len(done.latencies) / max(done.span, 1e-6))
                    failed = done.result["failed"]
                    section.details.append(
                        f"{label} {len(done.latencies)} replies ({count} users x {cfg.button_steps} presses) "
                        f"in {done.span:.1f} s = {fig.rate[-1]:.0f} presses/s; "
                        f"reply p50 {fig.p50[-1]:.0f} ms, p99 {fig.p99[-1]:.0f} ms, "
                        f"max {max(done.latencies) * 1000:.0f} ms"
                        + (f"; {failure_note(done.result)}" if failed else ""))
    low, high = cfg.button_think
    people = f"{cfg.button_users} users x {cfg.button_steps} presses, reading {low:g}-{high:g} s first"
    at_once = f"{cfg.button_users} users pressing at once, no reading time"

    def value(kind: str, mode: str, attr: str) -> float | None:
        fig = figures.get((kind, mode))
        return median(getattr(fig, attr)) if fig is not None else None

    p99 = value("project", "people", "p99")
    section.figures += [
        Figure("2. button latency", f"reply p50, {people}", value("project", "people", "p50"),
               value("echo", "people", "p50"), "ms"),
        Figure("2. button latency", f"reply p99, {people}", p99, value("echo", "people", "p99"), "ms",
               "< 100 ms", None if p99 is None else p99 < 100),
        Figure("2. button latency", f"reply p50, {at_once}", value("project", "at once", "p50"),
               value("echo", "at once", "p50"), "ms"),
        Figure("2. button latency", f"reply p99, {at_once}", value("project", "at once", "p99"),
               value("echo", "at once", "p99"), "ms"),
        Figure("2. button latency", f"presses answered per second, {at_once}",
               value("project", "at once", "rate"), value("echo", "at once", "rate"), "presses/s"),
    ]
    return section


# ------------------------------------------------------------------ 3. memory


@dataclass
class MemoryResult:
    per_session: float | None
    detail: str
    note: str = ""


async def _memory_bot(cfg: Config, work: Path, mode: str, evict: float) -> MemoryResult:
    n = cfg.memory_sessions
    folder = _dir(work, f"memory-{mode}")
    env = {"IDLE_EVICT_SECONDS": str(evict)}
    async with standin(folder / "standin.log") as api, BotProcess("project", api, folder, env) as bot:
        users = Users(api)
        await prepare_screening(api, await users.new(cfg.warmup_users), cfg)
        await settle(api)
        if mode == "idle":
            await asyncio.sleep(evict + 3.0)  # the warm-up users leave memory too
        before = memory_kib(bot.pid)
        started = time.monotonic()
        result = await prepare_screening(api, await users.new(n), cfg)
        load_seconds = time.monotonic() - started
        await settle(api)
        loaded = memory_kib(bot.pid)
        if mode == "idle":
            await asyncio.sleep(evict + 3.0)  # the sweeper runs every max(1, evict / 2) s
        after = memory_kib(bot.pid)
    reached = len([r for r in step_results(result, 1) if r["match"] is not None])
    per_session = (after["VmRSS"] - before["VmRSS"]) / reached if reached else None

    def growth(key: str) -> str:
        return f"{(after.get(key, 0) - before.get(key, 0)) / max(reached, 1) * 1024:.0f} B"

    detail = (f"- {mode} (IDLE_EVICT_SECONDS={evict:g}): {reached}/{n} sessions at the first screening "
              f"list in {load_seconds:.0f} s; VmRSS before {before['VmRSS'] / 1024:.1f} MiB, after "
              f"loading {loaded['VmRSS'] / 1024:.1f} MiB, measured {after['VmRSS'] / 1024:.1f} MiB: "
              f"{(per_session or 0):.2f} KiB per session (RssAnon {growth('RssAnon')}, "
              f"RssFile {growth('RssFile')} per session; peak VmHWM {after.get('VmHWM', 0) / 1024:.1f} MiB)")
    return MemoryResult(per_session, detail, f"{mode}: {failure_note(result)}" if result["failed"] else "")


async def memory(cfg: Config, work: Path) -> Section:
    """Two bots, one keeping sessions in memory and one evicting them after 2 s.

    Memory is no timing figure, so the two run side by side (one core each).
    """
    section = Section("memory")
    n = cfg.memory_sessions
    active, idle = await asyncio.gather(_memory_bot(cfg, work, "active", cfg.memory_active_evict),
                                        _memory_bot(cfg, work, "idle", cfg.idle_evict))
    section.details += [active.detail, idle.detail]
    notes = "; ".join(r.note for r in (active, idle) if r.note)
    a, i = active.per_session, idle.per_session
    section.figures += [
        Figure("3. memory", f"RSS per active session ({n:,} mid-screening)", a, None, "KiB", "< 5 KiB",
               None if a is None else a < 5, notes),
        Figure("3. memory", f"RSS per idle session ({n:,}, evicted after {cfg.idle_evict:g} s)", i, None,
               "KiB", "< 0.5 KiB", None if i is None else i < 0.5),
    ]
    return section


# ------------------------------------------------------------------ 4 + 5. holds


@dataclass
class HoldPool:
    """Users prepared for holds: how many holds each has done, and who left (urgent care)."""

    ids: list[int]
    holds_done: dict[int, int] = field(default_factory=dict)
    gone: set[int] = field(default_factory=set)

    def eligible(self, count: int) -> list[int]:
        left = [u for u in self.ids if u not in self.gone and self.holds_done.get(u, 0) < HOLDS_PER_SESSION]
        return sorted(left, key=lambda u: (self.holds_done.get(u, 0), u))[:count]


async def walk_to_position(api: Standin, ids: list[int], cfg: Config, start: bool, hold_seconds: float
                           ) -> list[int]:
    """Bring users to an "I'm in position" prompt; returns those who got there."""
    result = await api.call("walk", chat_ids=ids, goal=IN_POSITION, prefer=WALK_PREFER, start=start,
                            timeout=60 + len(ids) * 0.2, concurrency=cfg.prep_concurrency,
                            settle=hold_seconds + 10)
    failed = set(result["failed_ids"])
    return [u for u in ids if u not in failed]


def hold_seconds(text: str | None) -> int:
    match = HOLD_SECONDS.search(text or "")
    return int(match.group(1)) if match else DEFAULT_HOLD_SECONDS


def spread(start: float, duration: float, count: int) -> list[float]:
    return [start + duration * i / max(count, 1) for i in range(count)]


async def holds(cfg: Config, work: Path) -> list[Section]:
    timers = Section("timer accuracy")
    emergency = Section("emergency latency")
    scale = cfg.time_scale
    hold = DEFAULT_HOLD_SECONDS * scale
    env = {"FLOW_TIME_SCALE": str(scale)}
    late_p50: list[float] = []
    late_p99: list[float] = []
    urgent_p50: list[float] = []
    urgent_p99: list[float] = []
    notes: list[str] = []
    folder = _dir(work, "holds")
    async with standin(folder / "standin.log") as api, BotProcess("project", api, folder, env) as bot:
        users = Users(api)
        pool_ids = await users.new(max(cfg.timer_users, cfg.emergency_users + cfg.emergency_flagged))
        pool = HoldPool(pool_ids)
        ready = await walk_to_position(api, pool_ids, cfg, start=True, hold_seconds=hold)
        pool.gone.update(set(pool_ids) - set(ready))
        if len(ready) < len(pool_ids):
            notes.append(f"{len(pool_ids) - len(ready)} users did not reach a hold")

        # 4. timers: each run presses "in position" for every user, spread over a ramp
        for run in range(min(cfg.runs, 3)):
            ids = pool.eligible(cfg.timer_users)
            if run > 0:
                ids = await walk_to_position(api, ids, cfg, start=False, hold_seconds=hold)
            release = RELEASE_BOTH if run == 2 else RELEASE_SINGLE
            ramp = cfg.timer_ramp * hold
            at = spread(time.monotonic() + 0.3, ramp, len(ids))
            meter = CpuMeter({"bot": bot.pid, "stand-in": api.pid})
            result = await script(api, ids, [step("click", IN_POSITION, HOLD, capture=True),
                                             step("none", expect=release)],
                                  timeout=ramp + hold + 60, at=at)
            cpu = meter.read()
            for user in ids:
                pool.holds_done[user] = pool.holds_done.get(user, 0) + 1
            late: list[float] = []
            intervals: list[tuple[float, float]] = []
            for runs in result["users"].values():
                if len(runs) < 2 or runs[0]["match"] is None or runs[1]["match"] is None:
                    continue
                start = runs[0]["match"]
                due = start + hold_seconds(runs[0].get("text")) * scale
                late.append(runs[1]["match"] - due)
                intervals.append((start, runs[1]["match"]))
            if not late:
                notes.append(f"timer run {run + 1}: no releases. {failure_note(result)}")
                continue
            peak_at = max(s for s, _ in intervals)
            concurrent = sum(1 for s, e in intervals if s <= peak_at < e)
            late_p50.append(percentile(late, 50) * 1000)
            late_p99.append(percentile(late, 99) * 1000)
            timers.details.append(
                f"- run {run + 1}: {len(late)} holds of {hold:g} s, presses spread over {ramp:g} s; "
                f"{concurrent} in a hold at once at the last hold's start; "
                f"lateness p50 {late_p50[-1]:.0f} ms, p99 {late_p99[-1]:.0f} ms, "
                f"max {max(late) * 1000:.0f} ms, min {min(late) * 1000:.0f} ms; CPU "
                + fmt_cpu(cpu)
                + (f"; {failure_note(result)}" if result["failed"] else ""))

        # 5. emergencies: red flags from some users while the others' holds run
        for run in range(cfg.runs):
            ids = pool.eligible(cfg.emergency_users)
            ids = await walk_to_position(api, ids, cfg, start=False, hold_seconds=hold)
            ramp = cfg.emergency_ramp * hold
            base = time.monotonic() + 0.3
            at = spread(base, ramp, len(ids))
            every = max(1, len(ids) // max(cfg.emergency_flagged, 1))
            flagged = ids[::every][: cfg.emergency_flagged]
            window_start, window_end = base + ramp + 0.3, base + hold - 0.3
            flag_at = spread(window_start, window_end - window_start, len(flagged))
            meter = CpuMeter({"bot": bot.pid, "stand-in": api.pid})
            held, urgent = await asyncio.gather(
                script(api, ids, [step("click", IN_POSITION, HOLD)], timeout=ramp + hold + 60, at=at),
                script(api, flagged, [step("text", RED_FLAG, URGENT)], timeout=hold + 60, at=flag_at))
            cpu = meter.read()
            for user in ids:
                pool.holds_done[user] = pool.holds_done.get(user, 0) + 1
            pool.gone.update(flagged)
            hold_start = {int(c): runs[0]["match"] for c, runs in held["users"].items()
                          if runs and runs[0]["match"] is not None}
            times = latencies(urgent, 0, "match")
            mid_hold = sum(1 for c, runs in urgent["users"].items()
                           if runs and int(c) in hold_start and hold_start[int(c)] < runs[0]["t0"]
                           < hold_start[int(c)] + hold)
            if not times:
                notes.append(f"emergency run {run + 1}: no urgent messages. {failure_note(urgent)}")
                continue
            urgent_p50.append(percentile(times, 50) * 1000)
            urgent_p99.append(percentile(times, 99) * 1000)
            emergency.details.append(
                f"- run {run + 1}: {len(hold_start)} users in holds of {hold:g} s (presses over {ramp:g} s), "
                f"{len(flagged)} red flags spread over {window_end - window_start:.1f} s, {mid_hold} of them "
                f"sent mid-hold; urgent message p50 {urgent_p50[-1]:.0f} ms, p99 {urgent_p99[-1]:.0f} ms, "
                f"max {max(times) * 1000:.0f} ms; CPU "
                + fmt_cpu(cpu)
                + "".join(f"; {failure_note(r)}" for r in (held, urgent) if r["failed"]))
            if run + 1 < cfg.runs:  # the survivors' holds end before they are walked on
                await asyncio.sleep(max(0.0, base + ramp + hold + 1.0 - time.monotonic()))

    p99_late = median(late_p99)
    p99_urgent = median(urgent_p99)
    timers.figures += [
        Figure("4. timer accuracy", f"release lateness p50, {cfg.timer_users} concurrent holds",
               median(late_p50), None, "ms", note=f"FLOW_TIME_SCALE={scale:g}"),
        Figure("4. timer accuracy", f"release lateness p99, {cfg.timer_users} concurrent holds", p99_late,
               None, "ms", "< 100 ms", None if p99_late is None else p99_late < 100, "; ".join(notes)),
    ]
    emergency.figures += [
        Figure("5. emergency", f"urgent message p50, {cfg.emergency_flagged} red flags / "
               f"{cfg.emergency_users} mid-hold", median(urgent_p50), None, "ms"),
        Figure("5. emergency", f"urgent message p99, {cfg.emergency_flagged} red flags / "
               f"{cfg.emergency_users} mid-hold", p99_urgent, None, "ms", "< 150 ms",
               None if p99_urgent is None else p99_urgent < 150),
    ]
    return [timers, emergency]


# ------------------------------------------------------------------ 6. reminders


async def _seed_reminders(db: Path, ids: list[int], now: float) -> None:
    """The bot's database: a UTC profile and one daily reminder per user, none of them due yet.

    The rule is the current UTC minute every day, so its next occurrence is tomorrow; the
    bot's own stores create the schema and the rows (the driver imports the bot's code only
    here, so a half-edited ``back_care_guide/`` never breaks the other scenarios).
    """
    from back_care_guide.reminders.schedule import ReminderRule
    from back_care_guide.store.records import Profile
    from back_care_guide.store.sqlite import SqliteStore

    store = SqliteStore(db)  # creates (migrates) every table
    try:
        minute = dt.datetime.fromtimestamp(now, dt.UTC)
        rule = ReminderRule(dt.time(minute.hour, minute.minute), False, "UTC")
        async with store.transaction() as tx:  # one transaction for all of them
            for uid in ids:
                await tx.profiles.save(Profile(uid, timezone="UTC"))  # active by default
                await tx.reminders.add(uid, rule, now)
    finally:
        await store.close()


def _make_due(db: Path, due: float) -> int:
    """One UPDATE: every reminder is due at ``due`` (epoch seconds), its rule that minute (UTC).

    After the claim the next occurrence is therefore tomorrow: nothing fires twice by rule.
    """
    at = dt.datetime.fromtimestamp(due, dt.UTC)
    connection = sqlite3.connect(db, isolation_level=None, timeout=10.0)
    try:
        return connection.execute(
            "UPDATE reminders SET next_fire_utc = ?, local_time = ?, snoozed_until = NULL WHERE active = 1",
            (due, f"{at:%H:%M}")).rowcount
    finally:
        connection.close()


def _send_rate(times: Sequence[float]) -> float | None:
    """Messages per second over sorted send times: the rate of the intervals between them."""
    if len(times) < 2 or times[-1] <= times[0]:
        return None
    return (len(times) - 1) / (times[-1] - times[0])


def _busiest_second(times: Sequence[float]) -> int:
    """The most messages in any 1-second window (sliding)."""
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def _log_lines(log: str, *needles: str) -> list[str]:
    return [line.split(": ", 1)[-1] for line in log.splitlines() if any(n in line for n in needles)]


@dataclass
class BurstRun:
    """What one reminder burst produced, as the stand-in saw it."""

    ids: list[int]
    events: list[tuple[int, float]]  # (chat, time) of every reminder message
    made_due: int
    reached_all: bool
    standin_due: float
    cpu: dict[str, float]
    stats: JSONDict
    log: str
    replies: list[float] = field(default_factory=list)  # seconds, people mid-session
    talk_failed: str = ""


def _flood(cfg: Config) -> dict[str, float]:
    """Telegram's limits (FloodControl's defaults), switched on in the stand-in for the bursts."""
    return {"global_rate": cfg.flood_global_rate, "global_burst": cfg.flood_global_rate,
            "per_chat_rate": 1.0, "per_chat_burst": 3.0}


async def _burst_run(cfg: Config, folder: Path, n: int, talkers: int) -> BurstRun:
    """``n`` reminders due at one instant; ``talkers`` people answer questions meanwhile."""
    db = folder / "bench.db"  # BotProcess's DATABASE_URL
    env = {"TELEGRAM_MAX_RATE": f"{cfg.telegram_max_rate:g}", "REMINDER_RATE": f"{cfg.reminder_rate:g}",
           "LOG_LEVEL": "INFO"}  # production defaults; INFO for the dispatcher's summary line
    timeout = n / cfg.reminder_rate * 1.5 + 30.0
    async with standin(folder / "standin.log") as api:
        users = Users(api)
        ids = await users.new(n)
        await _seed_reminders(db, ids, time.time())
        async with BotProcess("project", api, folder, env) as bot:
            people = await users.new(talkers) if talkers else []
            if people:
                prep = await prepare_screening(api, people, cfg)
                if prep["failed"]:
                    raise RuntimeError(f"preparation: {failure_note(prep)}")
            await api.call("enable_flood_control", **_flood(cfg))
            meter = CpuMeter({"bot": bot.pid, "stand-in": api.pid})
            due = time.time() + cfg.reminder_lead
            standin_due = float(await api.call("clock")) + (due - time.time())  # its clock, for details
            made_due = _make_due(db, due)
            talk: asyncio.Task[JSONDict] | None = None
            if people:  # they start answering once the burst is under way
                await asyncio.sleep(cfg.reminder_lead + 2.0)
                steps = [step("click", NO, QUESTIONS[i + 1]) for i in range(len(QUESTIONS) - 1)]
                talk = asyncio.create_task(
                    script(api, people, steps, timeout=timeout, think=cfg.talk_think))
            waited = await api.call("collect", text=REMINDER_TEXT, chats=n, timeout=timeout)
            talked = await talk if talk is not None else None
            await asyncio.sleep(cfg.reminder_tail)  # late duplicates, if any, arrive meanwhile
            collected = await api.call("collect", text=REMINDER_TEXT)
            cpu = meter.read()
            stats = await api.call("stats")
        log = bot.log  # after the bot stopped: its shutdown lines too
    run = BurstRun(ids, [(int(c), float(t)) for c, t in collected["events"]], made_due, waited["reached"],
                   standin_due, cpu, stats, log)
    if talked is not None:
        run.replies = [x for i in range(len(QUESTIONS) - 1) for x in latencies(talked, i, "match")]
        run.talk_failed = failure_note(talked)
    return run


async def reminder_burst(cfg: Config, work: Path) -> Section:
    """N reminders due at one instant, sent through the stand-in's Telegram-like flood control.

    One run (not ``cfg.runs``): it lasts N / REMINDER_RATE seconds (80 s for 2,000) and the
    rate is set by the bot's limiter, not by how fast the machine happens to be. A second,
    shorter burst has a few people answering questions meanwhile: their replies must not
    queue behind the reminders.
    """
    section = Section("reminder burst")
    n = cfg.reminder_users
    rate = cfg.reminder_rate
    run = await _burst_run(cfg, _dir(work, "reminders"), n, 0)
    per_user = Counter(c for c, _ in run.events)
    expected = set(run.ids)
    lost = len(expected - set(per_user))
    duplicates = sum(1 for k in per_user.values() if k > 1)
    reached = len(expected & set(per_user))
    strangers = sum(k for c, k in per_user.items() if c not in expected)
    times = sorted(t for _, t in run.events)
    achieved = _send_rate(times)
    share = None if achieved is None else achieved / rate * 100
    flood_429 = int(run.stats.get("flood_429", 0))
    attempts = int(run.stats["calls"].get("sendmessage", 0))
    notes: list[str] = []
    if run.made_due != n:
        notes.append(f"{run.made_due} of {n} reminders made due")
    if not run.reached_all:
        notes.append(f"not every user had a reminder within {n / rate * 1.5 + 30:.0f} s")

    flood = _flood(cfg)
    detail = (f"- run 1: {n} users, one daily reminder each, all due at the same instant; REMINDER_RATE="
              f"{rate:g}, TELEGRAM_MAX_RATE={cfg.telegram_max_rate:g}; stand-in flood control "
              f"{flood['global_rate']:g}/s overall (burst {flood['global_burst']:g}), "
              f"{flood['per_chat_rate']:g}/s per chat (burst {flood['per_chat_burst']:g}). "
              f"{reached}/{n} users got a reminder ({len(run.events)} messages)")
    if len(times) > 1:
        gaps = [b - a for a, b in itertools.pairwise(times)]
        detail += (f"; first {times[0] - run.standin_due:.2f} s after due, last "
                   f"{times[-1] - run.standin_due:.1f} s after due; {achieved:.2f} msg/s = {share:.1f}% of "
                   f"{rate:g}/s; gaps between sends p50 {percentile(gaps, 50) * 1000:.0f} ms, p99 "
                   f"{percentile(gaps, 99) * 1000:.0f} ms, max {max(gaps) * 1000:.0f} ms; busiest second "
                   f"{_busiest_second(times)} messages")
    detail += (f"; sendMessage calls {attempts}, flood-control 429s {flood_429}; lost {lost}, users with "
               f"more than one {duplicates}; CPU " + fmt_cpu(run.cpu))
    section.details.append(detail)
    said = _log_lines(run.log, "reminders: sent=", "flood control: pausing", "Rate limit hit", "send failed",
                      "Traceback", "ERROR")
    if said:
        shown = said[:6] + ([f"... {len(said) - 6} more"] if len(said) > 6 else [])
        section.details.append("- bot log: " + "; ".join(f"`{line}`" for line in shown))
    if strangers:
        notes.append(f"{strangers} reminders to users the benchmark did not create")

    label = f"{n:,} due at once"
    section.figures += [
        Figure("6. reminder burst", f"send rate, {label} (REMINDER_RATE={rate:g}/s)", achieved, None,
               "msg/s", note="; ".join(notes)),
        Figure("6. reminder burst", f"send rate / REMINDER_RATE, {label}", share, None, "%", "≥ 90%",
               None if share is None else share >= 90),
        Figure("6. reminder burst", "429s from the stand-in's flood control", flood_429, None, "", "0",
               flood_429 == 0),
        Figure("6. reminder burst", "lost reminders (users without one)", lost, None, "", "0", lost == 0),
        Figure("6. reminder burst", "duplicate reminders (users with more than one)", duplicates, None, "",
               "0", duplicates == 0),
    ]
    if cfg.burst_talkers:
        section.figures += await _talk_during_burst(cfg, work, section)
    return section


async def _talk_during_burst(cfg: Config, work: Path, section: Section) -> list[Figure]:
    """A shorter burst while a few people answer screening questions (reading 1-3 s first)."""
    n, talkers = cfg.talk_reminders, cfg.burst_talkers
    run = await _burst_run(cfg, _dir(work, "reminders-talk"), n, talkers)
    times = sorted(t for _, t in run.events)
    rate = _send_rate(times)
    got = len(set(run.ids) & {c for c, _ in run.events})
    p50 = percentile(run.replies, 50) * 1000 if run.replies else None
    p99 = percentile(run.replies, 99) * 1000 if run.replies else None
    flood_429 = int(run.stats.get("flood_429", 0))
    section.details.append(
        f"- run 2: {n} reminders due at once, {talkers} people mid-session answering "
        f"{len(QUESTIONS) - 1} screening lists each (reading {cfg.talk_think[0]:g}-{cfg.talk_think[1]:g} s "
        f"first), starting 2 s into the burst: {len(run.replies)} replies, p50 "
        f"{p50 or 0:.0f} ms, p99 {p99 or 0:.0f} ms, max {max(run.replies, default=0) * 1000:.0f} ms; "
        f"{got}/{n} users got their reminder, {rate or 0:.1f} msg/s over the burst; 429s {flood_429}"
        + (f"; {run.talk_failed}" if run.talk_failed else ""))
    label = f"{talkers} people mid-session during a burst of {n:,}"
    return [
        Figure("6. reminder burst", f"reply p50, {label}", p50, None, "ms"),
        Figure("6. reminder burst", f"reply p99, {label}", p99, None, "ms"),
        Figure("6. reminder burst", "reminder send rate meanwhile (they give way to replies)", rate, None,
               "msg/s"),
    ]


# ------------------------------------------------------------------ 7. urgent care, limiter on


URGENT_PREFER = ["let's start", LONGER, NO, "0"]  # the walk to the first "in position" prompt


@dataclass
class UrgentRun:
    """One run of scenario 7, as the stand-in saw it."""

    urgent: list[float]  # seconds, red flag typed -> urgent-care message
    welcome: list[float]  # seconds, each /start -> its welcome
    queued_at_urgent: list[int]  # per red flag: /start replies not yet out when urgent care went out
    hold_after: int  # hold messages (halfway, release) recorded after a person's red flag
    flood_429: int
    detail: str
    before_halfway: list[float] = field(default_factory=list)  # typed before the halfway timer fired
    after_halfway: list[float] = field(default_factory=list)  # typed after it (its message queued)


async def _urgent_run(cfg: Config, api: Standin, bot: BotProcess, users: Users, run: int) -> UrgentRun:
    """People mid-hold, 1,000 /start at once from others, then the people's red flags."""
    scale = cfg.urgent_time_scale
    people = await users.new(cfg.urgent_people)
    walked = await api.call("walk", chat_ids=people, goal=IN_POSITION, prefer=URGENT_PREFER, start=True,
                            timeout=60 + len(people), concurrency=len(people), settle=5.0)
    if walked["failed_ids"]:
        raise RuntimeError(f"preparation: {walked['errors'][:1]}")
    held = await script(api, people, [step("click", IN_POSITION, HOLD, capture=True)], timeout=60)
    hold_start: dict[int, float] = {}
    hold_length: dict[int, float] = {}
    for chat, runs in held["users"].items():
        if runs and runs[0]["match"] is not None:
            hold_start[int(chat)] = runs[0]["match"]
            hold_length[int(chat)] = hold_seconds(runs[0].get("text")) * scale
    if len(hold_start) < len(people):
        raise RuntimeError(f"only {len(hold_start)} of {len(people)} in a hold. {failure_note(held)}")
    # Their chat's budget refills as it would while they settle into the hold (each has just
    # had a few messages); what is measured is the wait behind everybody else.
    await settle(api, 0.3)
    await asyncio.sleep(max(0.0, max(hold_start.values()) + cfg.urgent_refill - time.monotonic()))

    crowd = await users.new(cfg.urgent_burst)
    before = await api.call("stats")
    first_update = int(before["last_update_id"])
    meter = CpuMeter({"bot": bot.pid, "stand-in": api.pid})
    burst = asyncio.create_task(script(api, crowd, [step("command", "start", WELCOME_ASK)],
                                       timeout=30 + cfg.urgent_burst / 15))
    for _ in range(2000):  # the burst is queued in a few ms: wait for its last update (at most ~10 s)
        last = int((await api.call("stats"))["last_update_id"])
        if burst.done() or last >= first_update + cfg.urgent_burst:
            break
        await asyncio.sleep(0.005)
    behind = max(1, round(len(people) * cfg.urgent_behind))
    now = time.monotonic()
    # The rest while the replies go out (~N / 30 s): over the first 60% of that, and before
    # the holds end (they must still be mid-hold when they type).
    sending = cfg.urgent_burst / 30.0
    end = min(now + 0.6 * sending, min(s + hold_length[c] for c, s in hold_start.items()) - 2.0)
    flag_at = spread(now + 0.01, 0.25, behind) + spread(now + 1.0, max(0.0, end - now - 1.0),
                                                        len(people) - behind)
    flags = await script(api, people, [step("text", URGENT_RED_FLAG, URGENT)], timeout=60, at=flag_at)
    welcomed = await burst
    cpu = meter.read()
    # Hold messages would come at the latest when the holds were due to end: wait past that.
    hold_end = max(s + hold_length[c] for c, s in hold_start.items())
    await asyncio.sleep(max(0.0, hold_end + 2.0 - time.monotonic()))
    after = await api.call("stats")
    halfway = (await api.call("collect", text=HALFWAY))["events"]
    released = (await api.call("collect", text=RELEASE_SINGLE))["events"]

    typed = {int(c): runs[0]["t0"] for c, runs in flags["users"].items() if runs and runs[0]["t0"]}
    answered = {int(c): runs[0]["match"] for c, runs in flags["users"].items()
                if runs and runs[0]["match"] is not None}
    urgent = [answered[c] - typed[c] for c in answered]
    # The halfway timer's message goes out in the reply lane: typed after it was due, a red
    # flag is also behind that message (details and the p99 row's note show both groups).
    halfway_due = {c: hold_start[c] + hold_length[c] / 2 for c in hold_start}
    groups = {"right behind": people[:behind], "while sending": people[behind:],
              "of those typed after their halfway was due": [
                  c for c in people[behind:] if typed.get(c, 0.0) > halfway_due[c]]}
    by_group = "; ".join(
        f"{name} " + (f"p50 {percentile(xs, 50) * 1000:.0f} ms, max {max(xs) * 1000:.0f} ms" if xs else "-")
        for name, ids in groups.items()
        for xs in [[answered[c] - typed[c] for c in ids if c in answered]])
    welcome = latencies(welcomed, 0, "match")
    welcome_at = sorted(r["match"] for r in step_results(welcomed, 0) if r["match"] is not None)
    never = cfg.urgent_burst - len(welcome_at)
    queued = [never + sum(1 for t in welcome_at if t > at) for at in answered.values()]
    late_hold = sorted((int(c), name, t) for name, events in (("halfway", halfway), ("release", released))
                       for c, t in events if int(c) in typed and t > typed[int(c)])
    hold_after = len(late_hold)
    late_detail = ", ".join(
        f"{name} to a person {t - typed[c]:.1f} s after their red flag (typed "
        f"{typed[c] - hold_start[c]:.1f} s into the hold), urgent care {answered[c] - typed[c]:.1f} s "
        "after it" if c in answered else f"{name} {t - typed[c]:.1f} s after a red flag never answered"
        for c, name, t in late_hold)
    halfway_before = sum(1 for c, t in halfway if int(c) in typed and t < typed[int(c)])
    mid_hold = sum(1 for c, t in typed.items() if hold_start[c] < t < hold_start[c] + hold_length[c])
    last_update = max((r["t0"] for r in step_results(welcomed, 0) if r["t0"] is not None), default=0.0)
    gap = min(typed.values(), default=last_update) - last_update
    flood_429 = int(after.get("flood_429", 0)) - int(before.get("flood_429", 0))
    detail = f"- run {run}: "
    if urgent and welcome:
        detail += (
            f"{len(people)} people in a hold of {max(hold_length.values()):g} s (FLOW_TIME_SCALE={scale:g}), "
            f"{cfg.urgent_refill:g} s after their hold message {cfg.urgent_burst:,} /start from others at "
            f"once; red flags: {behind} right behind the burst's last update (the first "
            f"{gap * 1000:.0f} ms after it), {len(people) - behind} spread over the next "
            f"{max(typed.values()) - now:.1f} s; {mid_hold}/{len(typed)} typed mid-hold. Urgent care p50 "
            f"{percentile(urgent, 50) * 1000:.0f} ms, p99 {percentile(urgent, 99) * 1000:.0f} ms, max "
            f"{max(urgent) * 1000:.0f} ms, {len(urgent)}/{len(typed)} answered; /start replies still "
            f"queued when it went out: min {min(queued)}, median {statistics.median(queued):.0f} of "
            f"{cfg.urgent_burst:,} ({by_group}). Welcomes {len(welcome)}/{cfg.urgent_burst:,}: p50 "
            f"{percentile(welcome, 50):.1f} s, p90 {percentile(welcome, 90):.1f} s, p99 "
            f"{percentile(welcome, 99):.1f} s, max {max(welcome):.1f} s "
            f"({len(welcome) / max(max(welcome_at) - welcomed['started'], 1e-6):.1f} msg/s); "
            f"hold messages after a red flag {hold_after}{f' ({late_detail})' if late_detail else ''}; "
            f"{halfway_before} halfway messages came before the red flag; 429s {flood_429}; "
            f"CPU {fmt_cpu(cpu)}")
    else:
        detail += f"no urgent messages or no welcomes. {failure_note(flags)} {failure_note(welcomed)}"
    detail += "".join(f"; {failure_note(r)}" for r in (flags, welcomed) if r["failed"])
    split = ([answered[c] - typed[c] for c in answered if typed[c] <= halfway_due[c]],
             [answered[c] - typed[c] for c in answered if typed[c] > halfway_due[c]])
    return UrgentRun(urgent, welcome, queued, hold_after, flood_429, detail, *split)


async def urgent_under_load(cfg: Config, work: Path) -> Section:
    """Red flags from people mid-hold while 1,000 /start replies queue for Telegram's budget.

    The bot runs with its default limiter (TELEGRAM_MAX_RATE unset: 30/s overall, ~1/s per
    chat) and the stand-in's Telegram-like flood control is on throughout.
    """
    section = Section("urgent care under load, limiter on")
    folder = _dir(work, "urgent")
    p50: list[float] = []
    p99: list[float] = []
    worst: list[float] = []
    welcome: dict[int, list[float]] = {50: [], 90: [], 99: [], 100: []}
    queued: list[float] = []
    hold_after = 0
    flood_429 = 0
    before_halfway: list[float] = []
    after_halfway: list[float] = []
    async with standin(folder / "standin.log") as api:
        await api.call("enable_flood_control", **_flood(cfg))
        bot = BotProcess("project", api, folder, {"FLOW_TIME_SCALE": f"{cfg.urgent_time_scale:g}"})
        bot.env.pop("TELEGRAM_MAX_RATE")  # the default: the limiter is on
        async with bot:
            users = Users(api)
            await script(api, await users.new(cfg.warmup_users), [step("command", "start", WELCOME_ASK)],
                         timeout=60)
            await settle(api)
            for run in range(1, cfg.runs + 1):
                done = await _urgent_run(cfg, api, bot, users, run)
                section.details.append(done.detail)
                hold_after += done.hold_after
                before_halfway += done.before_halfway
                after_halfway += done.after_halfway
                flood_429 += done.flood_429
                if done.urgent:
                    p50.append(percentile(done.urgent, 50) * 1000)
                    p99.append(percentile(done.urgent, 99) * 1000)
                    worst.append(max(done.urgent) * 1000)
                    queued.append(min(done.queued_at_urgent))
                if done.welcome:
                    for q in welcome:
                        welcome[q].append(percentile(done.welcome, q))
                await settle(api)
            stats = await api.call("stats")
        log = bot.log
    flood_429 = max(flood_429, int(stats.get("flood_429", 0)))  # the warm-up and walks count too
    said = _log_lines(log, "Traceback", "ERROR", "dropped", "flood control")
    if said:
        shown = said[:6] + ([f"... {len(said) - 6} more"] if len(said) > 6 else [])
        section.details.append("- bot log: " + "; ".join(f"`{line}`" for line in shown))
    n, m = cfg.urgent_people, cfg.urgent_burst
    label = f"{n} red flags mid-hold / {m:,} /start at once"
    p99_urgent = median(p99)

    def worst_of(xs: list[float]) -> str:
        return f"max {max(xs) * 1000:,.0f} ms ({len(xs)} red flags)" if xs else "none"

    split = (f"runs' p99 {fmt_runs(p99)} ms; over all runs, red flags typed before the person's halfway "
             f"timer fired: {worst_of(before_halfway)}; typed after it: {worst_of(after_halfway)}")
    section.figures += [
        Figure("7. urgent care under load", f"urgent care p50, {label} (limiter on)", median(p50), None, "ms",
               note="TELEGRAM_MAX_RATE default (30/s), stand-in flood control on"),
        Figure("7. urgent care under load", f"urgent care p99, {label} (limiter on)", p99_urgent, None, "ms",
               "< 1 s", None if p99_urgent is None else p99_urgent < 1000, split),
        Figure("7. urgent care under load", f"urgent care max, {label}", median(worst), None, "ms"),
        Figure("7. urgent care under load", "/start replies still queued when urgent care went out (fewest)",
               median(queued), None, ""),
        *[Figure("7. urgent care under load", f"/start -> welcome {'max' if q == 100 else f'p{q}'}, "
                 f"{m:,} at once at 30 msg/s", median(welcome[q]), None, "s") for q in welcome],
        Figure("7. urgent care under load", "429s from the stand-in's flood control", flood_429, None, "",
               "0", flood_429 == 0),
        Figure("7. urgent care under load", "hold messages (halfway, release) after a red flag", hold_after,
               None, "", "0", hold_after == 0),
    ]
    return section


def _dir(work: Path, name: str) -> Path:
    path = work / name
    path.mkdir(parents=True, exist_ok=True)
    return path


# ------------------------------------------------------------------ 8. calls per session

# Bot API calls that put or change a message in a chat: what Telegram's ~30 messages per
# second per bot are spent on (answerCallbackQuery is not one of them).
MESSAGE_CALLS = ("sendmessage", "sendphoto", "editmessagetext", "editmessagecaption",
                 "editmessagereplymarkup", "editmessagemedia")
# A completed healthy session, tap by tap (the e2e test's full_session): what is pressed,
# and a text of what it leads to.
WHOLE_SESSION = [
    step("command", "start", WELCOME_ASK), step("click", AGREE, QUESTIONS[0]),
    *(step("click", NO, question) for question in QUESTIONS[1:]),
    step("click", "5", "How long should each hold be"), step("click", "Standard", "knee-to-chest"),
    step("click", IN_POSITION, RELEASE_SINGLE), step("click", "No pain", "right knee"),
    step("click", IN_POSITION, RELEASE_SINGLE), step("click", "No pain", "both knees up together"),
    step("click", "Skip to the twist", "gentle spinal twist"),
    step("click", IN_POSITION, "back to the centre"), step("click", "No pain", "together to the right"),
    step("click", IN_POSITION, "back to the centre"), step("click", "No pain", QUESTIONS[-1]),
    step("click", "3", "Well done"),
]
SESSION_TIME_SCALE = 0.05  # holds of 1-1.5 s: the calls, not the waiting, are measured


async def calls_per_session(cfg: Config, work: Path) -> Section:
    """Bot API message calls (sends + edits) per completed healthy session: the send
    budget a session costs, so how many sessions an hour one bot can guide."""
    section = Section("calls per session")
    folder = _dir(work, "calls")
    env = {"FLOW_TIME_SCALE": str(SESSION_TIME_SCALE)}
    async with standin(folder / "standin.log") as api, BotProcess("project", api, folder, env):
        users = Users(api)
        ids = await users.new(cfg.session_users)
        before = (await api.call("stats"))["calls"]
        result = await script(api, ids, WHOLE_SESSION, timeout=120 + cfg.session_users)
        await settle(api)
        after = (await api.call("stats"))["calls"]
    done = sum(1 for runs in result["users"].values() if len(runs) == len(WHOLE_SESSION)
               and runs[-1].get("match") is not None)
    counts = {m: int(after.get(m, 0)) - int(before.get(m, 0)) for m in MESSAGE_CALLS}
    per_session = sum(counts.values()) / done if done == len(ids) else None
    sends = (counts["sendmessage"] + counts["sendphoto"]) / max(done, 1)
    section.details.append(
        f"- {done}/{len(ids)} people completed a session ({len(WHOLE_SESSION) - 1} taps, both knees "
        f"skipped); per session: {sends:g} sends, {sum(counts.values()) / max(done, 1) - sends:g} edits "
        f"({', '.join(f'{m} {n / max(done, 1):g}' for m, n in counts.items() if n)})"
        + (f"; {failure_note(result)}" if result["failed"] else ""))
    hourly = 30 * 3600 / per_session if per_session else None
    section.figures += [
        Figure("8. calls per session", "Bot API message calls (sends + edits) per completed session",
               per_session, None, "calls", "≤ 30", None if per_session is None else per_session <= 30,
               failure_note(result)),
        Figure("8. calls per session", "completed sessions an hour within 30 messages/s", hourly, None,
               "sessions/h"),
    ]
    return section
