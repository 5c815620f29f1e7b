"""The send scheduler over the real bot process, at the default rate limit (30 messages/s)
and with the stand-in's Telegram-like flood control on: a red flag typed mid-hold is answered
at once although hundreds of ``/start`` replies are queued ahead of it.

Before the scheduler (PTB's AIORateLimiter, first come first served), the urgent-care
message waited behind every queued reply: 31.9 s behind 1,000.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.e2e.conftest import URGENT, BotProcess, Person, screening
from tests.standin import BotApiStandin

QUEUED_USERS = int(os.environ.get("PRIORITY_E2E_USERS", "200"))  # 200: ~7 s of replies at 30/s
WELCOME = "Shall we start?"
RED_FLAG = "my left leg, it went numb all the way down"
HOLD_WORDS = ("Halfway", "Slowly return")


@pytest.mark.parametrize("typed", ["while_sending", "during_the_burst"])
async def test_red_flag_mid_hold_jumps_a_queue_of_start_replies(api: BotApiStandin,
                                                                tmp_path: Path, typed: str) -> None:
    """``while_sending``: once the bot has read the burst and its replies queue for the send
    budget. ``during_the_burst``: right behind the burst's last update, while the bot is still
    reading them (a red flag takes no update slot, so it doesn't wait for them)."""
    flood = api.enable_flood_control()  # 30/s overall, 1/s per chat with a burst of 3
    bot = BotProcess(api, tmp_path / "bot.db", {"FLOW_TIME_SCALE": "1"})  # a real 30 s hold
    bot.env.pop("TELEGRAM_MAX_RATE")  # the default: the limiter is on
    await bot.start()
    try:
        person = Person(api, 1001)
        await screening(person)
        await person.step("Longer", "knee-to-chest")
        await person.step("in position", "Hold for 30 seconds")
        hold_started = len(person.sent)

        # Safety messages keep to the per-chat limit (about one a second): the person has
        # just had three messages, so let their chat's budget refill as it would while they
        # settle into the hold; what is measured is the wait behind everybody else.
        await asyncio.sleep(1.5)
        crowd = [Person(api, 20_000 + i) for i in range(QUEUED_USERS)]
        for other in crowd:
            await other.command("start")

        def welcomed() -> int:
            return sum(1 for other in crowd if other.sent)

        # The replies are going out at 30 a second: the queue is full behind them. (Waiting for
        # a fifth of them also lets the bot finish *handling* the /start updates: with 1,000 at
        # once that takes it ~5 s of CPU, and a red flag typed meanwhile waits for that, not
        # for the send queue.)
        if typed == "while_sending":
            await api.wait_until(lambda: welcomed() >= max(30, QUEUED_USERS // 5),
                                 timeout=QUEUED_USERS / 20 + 10)
        loop = asyncio.get_running_loop()
        await person.send(RED_FLAG)
        typed_at = loop.time()
        snapshot: list[int] = []

        def urgent_arrived() -> bool:
            if any(URGENT.casefold() in m.text.casefold() for m in person.sent[person.mark:]):
                snapshot.append(welcomed())
                return True
            return False

        await api.wait_until(urgent_arrived, timeout=10, chat_id=person.id)
        latency = loop.time() - typed_at
        waiting = QUEUED_USERS - snapshot[0]
        print(f"\nurgent care {latency * 1000:.0f} ms after the red flag, with {waiting} of "
              f"{QUEUED_USERS} /start replies still queued; 429s from the stand-in: {flood.rejected}")
        assert latency < 1.0
        assert waiting >= QUEUED_USERS // 3, "the queue had drained: the test proved nothing"
        assert URGENT.casefold() in person.sent[person.mark].text.casefold()  # first, and alone

        await api.wait_until(lambda: welcomed() == QUEUED_USERS, timeout=QUEUED_USERS / 10 + 10)
        for other in crowd:
            assert [m.text.count(WELCOME) for m in other.sent] == [1]  # each exactly once
        later = [m.text for m in person.sent[hold_started:]]
        assert not [t for t in later if any(w in t for w in HOLD_WORDS)]  # the hold was cancelled
        assert flood.rejected == 0  # the scheduler kept within Telegram's limits
    finally:
        code = await bot.stop()
    assert " ERROR bot." not in bot.log, bot.log
    assert code == 0, bot.log
