"""The real bot process and its SQLite file: one writer, a vanished file, reminders through a crash."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import sys
from pathlib import Path

from back_care_guide.reminders.dispatcher import ReminderDispatcher
from back_care_guide.store.sqlite import WATCH_INTERVAL
from tests.e2e.conftest import ROOT, BotProcess, Person, seed_due_reminders
from tests.standin import BotApiStandin
from tests.standin.recorder import WaitTimeout

NUDGE = "Time for your gentle back routine"
USERS = list(range(5001, 5051))  # 50 people, one reminder each, all due at once
# The dispatcher's bound on what a crash can lose: one claimed reminder per worker.
CONCURRENCY = ReminderDispatcher.__init__.__kwdefaults__["concurrency"]


def nudges(api: BotApiStandin) -> dict[int, int]:
    return {uid: sum(NUDGE in m.text for m in api.sent_messages(uid)) for uid in USERS}


async def test_reminders_survive_a_sigkill_mid_batch(api: BotApiStandin, tmp_path: Path) -> None:
    for uid in USERS:
        api.add_user(uid, f"User{uid}")
    db = tmp_path / "bot.db"
    await seed_due_reminders(f"sqlite:///{db}", USERS, ago=180)
    bot = BotProcess(api, db)  # REMINDER_RATE 25/s: the 50 take two seconds
    await bot.start(ready=False)
    try:
        await api.wait_until(lambda: sum(nudges(api).values()) > 0, timeout=30)
        await asyncio.sleep(0.5)
    finally:
        assert await bot.stop(signal.SIGKILL) == -signal.SIGKILL
    before = nudges(api)
    delivered_before = sum(before.values())
    assert 0 < delivered_before < len(USERS), "the crash must come in the middle of the batch"

    restarted = BotProcess(api, db)  # the kernel dropped the dead process's lock
    await restarted.start()
    try:
        with contextlib.suppress(WaitTimeout):  # if some were lost: the bound below
            await api.wait_until(lambda: all(nudges(api).values()), timeout=15)
        await api.wait_quiet(1.0)
    finally:
        assert await restarted.stop() == 0, restarted.log
    after = nudges(api)
    assert max(after.values()) == 1, f"sent twice: {[u for u, n in after.items() if n > 1]}"
    lost = [uid for uid, n in after.items() if n == 0]
    assert len(lost) <= CONCURRENCY, f"lost {len(lost)} (bound {CONCURRENCY}): {lost}"
    sys.stderr.write(f"delivered before the SIGKILL: {delivered_before}, lost: {len(lost)}\n")
    assert " ERROR bot." not in restarted.log, restarted.log


async def test_a_second_bot_on_the_same_database_exits_2(api: BotApiStandin, bot: BotProcess,
                                                          person: Person, tmp_path: Path) -> None:
    second = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "back_care_guide", "run", cwd=ROOT, env=bot.env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(second.communicate(), 60)
    assert second.returncode == 2, err
    (line,) = err.decode().strip().splitlines()
    assert line.startswith(f"error: DATABASE_URL=sqlite:///{tmp_path / 'bot.db'}: ")
    assert "in use by another bot process" in line and "Traceback" not in line
    assert out == b""
    await person.command("start")  # the first one carries on
    await person.expect("Shall we start?")


async def test_a_foreign_database_is_refused_by_run(api: BotApiStandin, tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    foreign = sqlite3.connect(db)
    with foreign:
        foreign.execute("CREATE TABLE conversations (id INTEGER PRIMARY KEY)")
    foreign.close()
    bot = BotProcess(api, db)
    await bot.start(ready=False)
    assert bot.process is not None
    try:
        code = await asyncio.wait_for(bot.process.wait(), 60)
    finally:
        await bot.stop(signal.SIGKILL)  # never leave a bot running behind a failed test
    log = bot.log.strip().splitlines()
    assert code == 2 and len(log) == 1, bot.log
    assert log[0].startswith("error: DATABASE_URL=") and "not made by this bot" in log[0]
    assert api.calls.get("getme", 0) == 0  # refused before it ever talked to Telegram


async def test_deleting_the_database_while_running_logs_one_critical_line(
        api: BotApiStandin, bot: BotProcess, person: Person, tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    await person.command("start")
    await person.expect("Shall we start?")
    db.unlink()

    def critical_lines() -> list[str]:
        return [line for line in bot.log.splitlines() if " CRITICAL " in line]

    for _ in range(int(WATCH_INTERVAL * 3 / 0.2)):  # the next check, a few seconds away
        if critical_lines():
            break
        await asyncio.sleep(0.2)
    await person.command("help")  # the bot still answers meanwhile
    await asyncio.sleep(WATCH_INTERVAL + 1)  # further checks: still one line
    (line,) = critical_lines()
    assert "was deleted" in line and f"DATABASE_URL=sqlite:///{db}" in line
