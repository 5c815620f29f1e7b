"""The load benchmark: the project's bot against a bare PTB echo bot, on the Bot API stand-in.

    .venv/bin/python -m bench.run [--quick] [--runs N] [--scenario NAME ...] [--output FILE]

Both bots run as real processes (``python -m back_care_guide run`` / ``python -m bench.echo_bot``)
against the stand-in (``python -m bench.standin_ext``), each its own process, on 127.0.0.1.
Prints a table and, for a full run, writes ``BENCHMARKS.md`` at the repository root.
``--quick`` uses a few dozen users per scenario (the smoke test) and writes no file unless
``--output`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.metadata
import os
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.procs import ROOT
from bench.replicas import LABEL as REPLICAS_LABEL
from bench.replicas import postgres_replicas
from bench.scenarios import (
    URGENT_RED_FLAG,
    Config,
    Figure,
    Section,
    button_latency,
    calls_per_session,
    holds,
    memory,
    reminder_burst,
    start_burst,
    urgent_under_load,
)

Runner = Callable[[Config, Path], Awaitable[list[Section]]]


def _one(func: Callable[[Config, Path], Awaitable[Section]]) -> Runner:
    async def run(cfg: Config, work: Path) -> list[Section]:
        return [await func(cfg, work)]

    return run


SCENARIOS: dict[str, tuple[Runner, list[str]]] = {
    # name: (runner, the table's scenario labels it produces, for a row when it fails)
    "burst": (_one(start_burst), ["1. start burst"]),
    "button": (_one(button_latency), ["2. button latency"]),
    "memory": (_one(memory), ["3. memory"]),
    "holds": (holds, ["4. timer accuracy", "5. emergency"]),  # timers and emergencies share one bot
    "reminders": (_one(reminder_burst), ["6. reminder burst"]),
    "urgent": (_one(urgent_under_load), ["7. urgent care under load"]),
    "calls": (_one(calls_per_session), ["8. calls per session"]),
    "postgres": (_one(postgres_replicas), [REPLICAS_LABEL]),
}
ALIASES = {"timers": "holds", "emergency": "holds", "start": "burst", "latency": "button",
           "urgent-care": "urgent", "replicas": "postgres", "pg": "postgres", "failover": "postgres"}
HEADERS = ("scenario", "metric", "project", "echo", "project/echo", "target", "result")


# ------------------------------------------------------------------ formatting


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "KiB":
        return f"{value:.2f} KiB"
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "msg/s":
        return f"{value:.1f} msg/s"
    if unit == "s":
        return f"{value:.1f} s"
    return f"{value:,.0f} {unit}".strip()


def _result(figure: Figure) -> str:
    if figure.note.startswith("skipped"):
        return "skipped"
    if not figure.target:
        return "TODO" if figure.note == "TODO" else ""
    if figure.passed is None:
        return "n/a"
    return "PASS" if figure.passed else "FAIL"


def rows(sections: list[Section]) -> list[tuple[str, ...]]:
    table: list[tuple[str, ...]] = []
    for section in sections:
        for f in section.figures:
            table.append((f.scenario, f.metric, _value(f.project, f.unit), _value(f.echo, f.unit),
                          "-" if f.ratio is None else f"{f.ratio:.2f}", f.target or "-", _result(f)))
    return table


def text_table(table: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [HEADERS, *table]) for i in range(len(HEADERS))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in table]
    return "\n".join(out)


def markdown_table(table: list[tuple[str, ...]]) -> str:
    out = ["| " + " | ".join(HEADERS) + " |", "|" + "|".join(" --- " for _ in HEADERS) + "|"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in table]
    return "\n".join(out)


# ------------------------------------------------------------------ the machine


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _proc_field(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine() -> list[str]:
    return [
        f"- CPUs (nproc): {os.cpu_count()} x {_proc_field('/proc/cpuinfo', 'model name')}",
        f"- memory: {_proc_field('/proc/meminfo', 'MemTotal')}",
        f"- OS: {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, python-telegram-bot {_version('python-telegram-bot')}, "
        f"httpx {_version('httpx')}, httpcore {_version('httpcore')}, anyio {_version('anyio')}, "
        f"sniffio {_version('sniffio')}, aiohttp {_version('aiohttp')} (stand-in)",
    ]


METHOD = """\
- **Processes.** The Bot API stand-in (`tests/standin`, run by `python -m bench.standin_ext`,
  which only adds bulk operations to its control endpoint), the project's bot
  (`python -m back_care_guide run`) and the echo bot (`python -m bench.echo_bot`) are separate processes on
  127.0.0.1; the driver (`bench.run`) is a fourth. Each scenario starts a fresh stand-in and fresh
  bot processes (fresh SQLite database), warms them up with a few users, then measures new users.
- **No flood control, no rate limiter (scenarios 1 to 5).** The stand-in answers every call at
  once (its Telegram-like flood control is off), and the project's bot runs with
  `TELEGRAM_MAX_RATE=0`: the figures are what the process itself can do. With the default
  30 messages/s limiter, any burst of more than ~30 messages (3,000 welcomes, 200 presses of
  which each needs an edit and a message, 1,000 releases) is spread over seconds by design.
  Scenarios 6 and 7 are the exceptions: they measure the pacing itself, so there both are on.
- **Echo bot.** A bare PTB `Application` (polling, `concurrent_updates=1024` like the project,
  PTB's default connection pool of 256, no rate limiter): one `sendMessage` per message; per
  button press `answerCallbackQuery` + one `sendMessage`. The project needs, per press,
  `answerCallbackQuery`, `editMessageText` (the answered question loses its buttons) and
  `sendMessage`.
- **Clocks.** Every time is the stand-in's `time.monotonic()`: when it put the update in the
  `getUpdates` queue, and when it recorded the bot's `sendMessage`/`editMessage*` call (its
  recorder's event time). Nothing compares clocks across processes.
- **The driver is not the bottleneck.** The users' actions are executed inside the stand-in
  process (one RPC per scenario step for all users): a burst of thousands of updates is
  queued in a few milliseconds, before the bot's next `getUpdates`, and closed-loop users
  react in the stand-in's event loop. Per burst the details below give the injection rate
  (tens of thousands of updates/s, vs. a few hundred handled/s) and CPU use: the bot process
  uses a full core while the stand-in uses a fraction of the other and the driver ~0.
- **1. Start burst.** N new users' `/start` queued at once; rate = N / (time of the last first
  reply - time of the first injection).
- **2. Button latency.** Users are brought to the first screening list (not measured), then
  each taps "None of these" on three lists, waiting for the next list before the next tap.
  *Reading first* (the target): like people, each user reads for a random
  {think_low:g}-{think_high:g} s (uniform, seeded) before every tap, so {button_users} users press
  about {press_rate:.0f} times a second: already more replies per second than Telegram lets one bot send
  (~30 messages/s). *At once* (a capacity figure, no target): all users press in the same
  instant and again the moment the next list arrives, with no reading time, so the bot is
  saturated throughout; the latency is then the queue, and the rate is what one process can
  answer. Latency = press queued → the reply: for the project the next list's message
  (its `answerCallbackQuery` goes out alongside it and the edit of the answered list right
  after it), for the echo bot its one message. Echo: the same users press a button on its
  last message.
- **3. Memory.** VmRSS of the bot from `/proc/<pid>/status`. Active: a bot with
  `IDLE_EVICT_SECONDS=3600`; RSS before and after bringing N users to the first screening
  list (`/start`, agree; 8 users at a time), divided by N. Idle: a second bot with
  `IDLE_EVICT_SECONDS=2`, the same load, then a wait for the eviction sweep; RSS growth over
  the baseline divided by N. The two bots run side by side (one core each): memory is no
  timing figure.
- **4. Timers.** Users are brought to "I'm in position" (not measured). They press it at
  evenly spread times (open loop, over {timer_ramp:.0%} of a hold), so that all of them are in a
  hold at once when the last hold starts (checked: "in a hold at once"). Due time = when the
  stand-in recorded the hold message + hold length x `FLOW_TIME_SCALE` ({scale:g}, so a 20 s hold
  lasts {hold:g} s); lateness = release message ("Slowly return your leg"; on the third run the
  both-knees hold's "Slowly lower your legs") recorded - due. The hold message is sent right
  after the timer is armed, so the due time is late by that message's own latency and lateness
  is, if anything, under-stated (hence small negative values). Holds last longer than "a few
  seconds" because {users} concurrent holds mean {users} hold starts per hold length, each
  costing an answer, an edit and a message, then a halfway message, an edit and a release message: the
  presses come at about {rate:.0f}/s here. In a trial with 10 s holds whose presses came over 6 s
  (~170/s) the bot saturated its core and lateness p99 reached ~20 s.
- **5. Emergency.** As 4 with N users (presses over 50% of a hold, halfway messages firing meanwhile);
  while all are mid-hold, a few of them type the red flag, spread over the rest of the hold;
  latency = text queued → "get medical help now" recorded.
- **6. Reminder burst.** The stand-in's flood control is on with Telegram's limits
  ({flood_global:g} messages/s overall, bucket of {flood_global:g}; 1/s per chat, bucket of 3; a call over a
  limit is answered 429 and counted), and the bot runs with the production defaults
  (`TELEGRAM_MAX_RATE={max_rate:g}`, `REMINDER_RATE={reminder_rate:g}`, `LOG_LEVEL=INFO`). Before the bot
  starts, the driver creates its database with the bot's own store (`SqliteStore`,
  `tx.reminders.add`): {reminders:,} users (also added to the stand-in), each with a profile (active,
  time zone UTC) and one daily reminder whose next occurrence is tomorrow. Once the bot polls,
  one UPDATE makes all of them due at the same instant {lead:g} s later (rule = that UTC minute, so
  after the claim the next occurrence is tomorrow again). The driver then waits until every user
  has a message containing "gentle back routine" (bounded: N / rate x 1.5 + 30 s), and
  {tail:g} s more for late duplicates. Send rate = (messages - 1) / (last - first recorded
  message), i.e. the rate of the intervals between sends, against `REMINDER_RATE`; 429s =
  the stand-in's flood-control counter; lost = users without a reminder; duplicates = users
  with more than one. "After due" in the details places the due instant (epoch seconds) on
  the stand-in's clock with one `clock` call (good to a few ms; no figure uses it). One run
  whatever `--runs` says (the other scenarios: {runs}): it lasts N / `REMINDER_RATE` seconds
  (80 s for 2,000) and the rate is set by the bot's limiter, not by the machine's speed (the
  bot uses a few % of a core), so repeating it mostly repeats the same figure. A second burst
  ({talk_reminders:,} reminders, the same set-up) has {talkers} people in a session meanwhile: brought to
  the first screening list before it, they start 2 s into the burst and tap "None of these"
  on all four lists, reading {talk_low:g}-{talk_high:g} s before every tap (about Telegram's 1 message/s per
  chat, as each tap brings a message and an edit). Reply latency = tap queued → next list (or,
  after the fourth, the pain rating) recorded; the reminders' rate over that burst shows how
  much room they gave up.
- **7. Urgent care under load, limiter on.** What the send scheduler is for: with Telegram's
  budget, a red flag must not wait behind queued replies. The bot runs with its default limiter
  (`TELEGRAM_MAX_RATE` unset, i.e. 30 messages/s overall and about 1/s per chat) and the stand-in's
  flood control is on throughout (as in 6), with `FLOW_TIME_SCALE={urgent_scale:g}`. Per run,
  {urgent_people} new people are brought to the knee-to-chest exercise with hold length "Longer"
  and press "I'm in position" (a {urgent_hold:g} s hold; not measured); {urgent_refill:g} s after their hold
  message (their chat's budget has refilled, as it would while they settle in), {urgent_burst:,} other
  users send `/start` at once (~{urgent_sending:.0f} s of welcomes at 30/s). Then each person types
  "{red_flag}" (leg_numbness, urgent tier): {urgent_behind:.0%} of them right behind the burst's last
  update (the driver waits until the stand-in holds all of it), the rest spread over the first 60%
  of the sending time while the welcomes go out, all before their hold ends; some of these come
  after their halfway timer fired. Urgent-care latency = red flag queued → "get medical help now"
  recorded (target p99 < 1 s); welcome latency = each `/start` queued → its "Shall we start?"; "still
  queued" = welcomes not yet recorded when the urgent message was (fewest over a run's red flags, so
  the queue was really there); 429s = the stand-in's flood-control counter over the whole scenario;
  hold messages = "Halfway there" or "Slowly return your leg" recorded for a person after their red
  flag (the driver waits until 2 s past the end of every hold). Before the scheduler, with PTB's
  `AIORateLimiter` (first come, first served), the urgent message waited 31.9 s behind 1,000 queued
  `/start` replies (the issue's figure, measured before this scenario existed; not a row).
- **9. PostgreSQL and replicas** (`bench/replicas.py`). Three set-ups, each with a fresh stand-in and
  fresh database, all in webhook mode behind the same round-robin proxy (`tests/e2e/roundrobin.py`,
  in the driver process; like nginx's default upstream, it skips a replica that refuses the
  connection): SQLite with
  one process; PostgreSQL with one replica; PostgreSQL with two replicas on one database (the
  same `DATABASE_URL`, `WEBHOOK_URL` = the proxy, `WEBHOOK_SECRET`; a `WEBHOOK_PORT` each). The
  PostgreSQL server is a throwaway one (`tests/pg.py`) on 127.0.0.1 with its default durability
  (fsync on, `synchronous_commit` on), started for this scenario and stopped at its end; without
  PostgreSQL binaries the rows say "skipped". Limiter off, `FLOW_TIME_SCALE={replica_scale:g}`.
  On each set-up: the start burst as in 1 ({burst_users:,} users), and button latency as in 2
  with people reading first ({button_users} users). Targets: PostgreSQL with one replica at least
  half SQLite's burst rate (within 2x); two replicas at least 0.9 x one replica (not slower,
  within noise); reply p99 < 100 ms as in 2. Then, on the two replicas, the failover, per run:
  {failover_people} new people are walked to "I'm in position" and tap it at once (the proxy
  notes which replica took each tap: that replica armed the person's hold timers, a hold of
  {failover_hold:g} s); right after the last hold message the replica that took the most taps is
  SIGKILLed. The survivor takes over timers overdue by 1 s (it looks every 0.5 s). Failover
  time = release message ("Slowly return your leg") recorded - max(due, SIGKILL), for the
  holds the killed replica armed (the survivor's own holds are in the details); due = hold
  message recorded + hold length; target ≤ 3 s. Also counted: holds never released (within
  15 s of due) and people who got a welcome, release or halfway note twice. The killed replica
  is started again before the next run. Kill times are the driver's `time.monotonic()`, the
  same clock as the stand-in's on one machine (as in 7).
- **Figures** are medians over the runs (percentiles per run, nearest rank); the memory
  figures and the reminder burst are one run each."""


def markdown(sections: list[Section], cfg: Config, command: str, seconds: float) -> str:
    out = [
        "# Benchmarks",
        "",
        "Load benchmark of the Telegram bot against the framework's floor: a bare python-telegram-bot",
        "echo bot, on the same in-repo Bot API stand-in, on the same machine. Generated by `bench/run.py`.",
        "",
        "## Command",
        "",
        f"    {command}",
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {seconds / 60:.1f} minutes, runs per figure: "
        f"{cfg.runs}{' (quick)' if cfg.quick else ''}.",
        "",
        "## Machine",
        "",
        *machine(),
        "",
        "## Results",
        "",
        markdown_table(rows(sections)),
        "",
    ]
    notes = [f"- {f.scenario}, {f.metric}: {f.note}" for s in sections for f in s.figures
             if f.note and f.note != "TODO"]
    if notes:
        out += ["Notes:", "", *notes, ""]
    out += ["## Details per run", ""]
    for section in sections:
        out += [f"### {section.name} ({section.seconds:.0f} s)", "", *(section.details or ["- (none)"]), ""]
    hold = 20 * cfg.time_scale
    out += ["## Method", "", METHOD.format(
        timer_ramp=cfg.timer_ramp, scale=cfg.time_scale, hold=hold, users=cfg.timer_users,
        rate=cfg.timer_users / (cfg.timer_ramp * hold), flood_global=cfg.flood_global_rate,
        max_rate=cfg.telegram_max_rate, reminder_rate=cfg.reminder_rate, reminders=cfg.reminder_users,
        lead=cfg.reminder_lead, tail=cfg.reminder_tail, runs=cfg.runs,
        think_low=cfg.button_think[0], think_high=cfg.button_think[1], button_users=cfg.button_users,
        press_rate=cfg.button_users / sum(cfg.button_think) * 2, talk_reminders=cfg.talk_reminders,
        talkers=cfg.burst_talkers, talk_low=cfg.talk_think[0], talk_high=cfg.talk_think[1],
        urgent_scale=cfg.urgent_time_scale, urgent_people=cfg.urgent_people,
        urgent_hold=30 * cfg.urgent_time_scale, urgent_refill=cfg.urgent_refill,
        urgent_burst=cfg.urgent_burst, urgent_sending=cfg.urgent_burst / 30, red_flag=URGENT_RED_FLAG,
        urgent_behind=cfg.urgent_behind, replica_scale=cfg.replica_time_scale,
        burst_users=cfg.burst_users, failover_people=cfg.failover_people,
        failover_hold=20 * cfg.replica_time_scale), ""]
    return "\n".join(out)


# ------------------------------------------------------------------ main


async def run(cfg: Config, names: list[str]) -> list[Section]:
    sections: list[Section] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        for name in names:
            runner, labels = SCENARIOS[name]
            started = time.monotonic()
            print(f"== {name} ...", flush=True)
            try:
                produced = await runner(cfg, Path(tmp))
            except Exception as exc:  # one broken scenario must not hide the others' figures
                note = f"failed: {type(exc).__name__}: {exc}"[:300]
                produced = [Section(name, [Figure(label, "error", note=note) for label in labels], [note])]
            elapsed = time.monotonic() - started
            for section in produced:
                section.seconds = elapsed / len(produced)
                for line in section.details:
                    print(f"   {line}", flush=True)
            sections += produced
    return sections


# Hand-written before/after figures of the performance work, appended to every report.
HISTORY = Path(__file__).with_name("history.md")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few dozen users per scenario")
    parser.add_argument("--runs", type=int, default=None, help="runs per figure (default 3, quick 1)")
    parser.add_argument("--scenario", action="append", choices=[*SCENARIOS, *ALIASES],
                        help="run only this scenario (repeatable)")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the report (default: BENCHMARKS.md for a full run)")
    args = parser.parse_args(argv)
    runs = args.runs if args.runs is not None else (1 if args.quick else 3)
    if runs < 1:
        parser.error("--runs must be at least 1")
    cfg = Config.quick_config(runs) if args.quick else Config(runs=runs)
    names = list(dict.fromkeys(ALIASES.get(n, n) for n in (args.scenario or SCENARIOS)))
    given = argv if argv is not None else sys.argv[1:]
    command = shlex.join([".venv/bin/python", "-m", "bench.run", *given])

    started = time.monotonic()
    sections = asyncio.run(run(cfg, names))
    seconds = time.monotonic() - started
    print()
    print(text_table(rows(sections)))
    print(f"\n{seconds:.0f} s; figures are medians over {runs} run(s) (6. reminder burst: one run); "
          "TELEGRAM_MAX_RATE=0 and no flood control in the stand-in, except in 6. reminder burst "
          f"(TELEGRAM_MAX_RATE={cfg.telegram_max_rate:g}, REMINDER_RATE={cfg.reminder_rate:g}, "
          "Telegram-like flood control) and 7. urgent care under load (TELEGRAM_MAX_RATE unset: "
          "the default, 30/s; Telegram-like flood control)")

    output = args.output
    if output is None and not args.quick and len(names) == len(SCENARIOS):
        output = ROOT / "BENCHMARKS.md"
    if output is not None:
        history = HISTORY.read_text(encoding="utf-8") if HISTORY.exists() else ""
        output.write_text(markdown(sections, cfg, command, seconds) + ("\n" + history if history else ""))
        print(f"written: {output}")
    else:
        print("no report written (quick or partial run; --output FILE writes one)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
