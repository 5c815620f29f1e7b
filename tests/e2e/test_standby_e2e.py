"""Polling on PostgreSQL: one process polls, a second one started on the same database stands
by (it does not poll, so Telegram sees no conflict), and takes over within 5 s when the first
is killed, with the conversation where the first left it."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from tests.e2e.conftest import FIRST_SCREEN, BotProcess, Person
from tests.standin import BotApiStandin

TAKE_OVER_WITHIN = 5.0  # seconds, from SIGKILL to the standby polling


async def test_a_second_poller_stands_by_and_takes_over(api: BotApiStandin, tmp_path: Path,
                                                        fresh_postgres_url: str) -> None:
    env = {"DATABASE_URL": fresh_postgres_url}
    first = BotProcess(api, tmp_path / "first.db", env)
    standby = BotProcess(api, tmp_path / "standby.db", env)
    await first.start()
    try:
        await standby.start(ready=False)
        await api.wait_until(lambda: "standing by" in standby.log, timeout=20)
        person = Person(api, 2001)
        await person.command("start")
        await person.expect("Shall we start?")
        polls = api.calls.get("getupdates", 0)
        await asyncio.sleep(1.0)
        assert "running (polling)" not in standby.log  # it does not poll while the first does

        killed = time.monotonic()
        await first.stop(signal.SIGKILL)
        await api.wait_until(lambda: "this process polls Telegram now" in standby.log, timeout=10)
        took_over = time.monotonic() - killed
        await person.step("let's start", FIRST_SCREEN)  # answered by the standby, from the store
        answered = time.monotonic() - killed
        print(f"\nstandby took over {took_over:.2f} s after SIGKILL; answered after {answered:.2f} s")
        assert took_over < TAKE_OVER_WITHIN
        assert api.calls.get("getupdates", 0) > polls
        took = standby.log.count("this process polls Telegram now")
        assert took == 1
    finally:
        await first.stop(signal.SIGKILL)
        code = await standby.stop()
    assert code == 0, standby.log
