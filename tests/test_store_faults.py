"""A store that fails never silences safety advice (a fault-injecting store)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from back_care_guide.engine.events import Priority, Text
from back_care_guide.engine.flood import FloodGuard
from back_care_guide.flow.loader import FlowBundle
from back_care_guide.safety.triage import Triage
from back_care_guide.store.sqlite import SqliteStore
from back_care_guide.store.sqlite.repositories import SqliteTransaction
from tests.harness import ChatClient, make_runtime, stored_state
from tests.test_flow import EXERCISE_WORDS, into_hold

FULL = sqlite3.OperationalError("database or disk is full")


class FaultyStore(SqliteStore):
    """SQLite with switches: while ``fail_writes``, a transaction that wrote fails as it
    commits (as on a full disk), and while ``fail_reads`` one that only read fails."""

    fail_writes = False
    fail_reads = False

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTransaction]:
        async with super().transaction() as tx:
            before = self._db.total_changes
            yield tx
            wrote = self._db.total_changes != before
            if wrote and self.fail_writes:
                raise FULL
            if not wrote and self.fail_reads:
                raise sqlite3.DatabaseError("database disk image is malformed")


@pytest.fixture
async def faulty(bundle: FlowBundle, triage: Triage, tmp_path: Path
                 ) -> AsyncIterator[tuple[ChatClient, FaultyStore]]:
    runtime, transport = make_runtime(bundle, triage, tmp_path / "bot.db", time_scale=0.01,
                                      store=FaultyStore)
    store = runtime.store
    assert isinstance(store, FaultyStore)
    await runtime.start()
    yield ChatClient(runtime, transport), store
    await runtime.close()


async def test_a_red_flag_is_answered_when_the_disk_is_full(
        faulty: tuple[ChatClient, FaultyStore], caplog: pytest.LogCaptureFixture) -> None:
    client, store = faulty
    await into_hold(client, "Standard")  # 20 s x 0.01: a 0.2 s hold
    store.fail_writes = True
    at = len(client.messages)
    with caplog.at_level(logging.ERROR):
        await client.send("my leg has gone numb all the way down to my foot")
        await client.send("help")
    urgent, *rest = client.messages[at:]
    assert urgent.text.startswith("Get medical help now")  # the advice first
    assert urgent.buttons == ()
    assert any("can't save your progress" in m.text for m in rest)  # then, once, the plain truth
    assert sum("can't save your progress" in m.text for m in rest) == 1
    assert not any("something went wrong" in m.text for m in client.messages)
    await asyncio.sleep(0.4)  # past the hold's end: nothing of the stretch follows
    assert not [m for m in client.messages[at:] if any(w in m.text.lower() for w in EXERCISE_WORDS)]
    failures = [r for r in caplog.records if "store write failed" in r.getMessage()]
    assert len(failures) == 1 and "OperationalError" in failures[0].getMessage()


async def test_the_write_is_retried_when_the_store_works_again(
        faulty: tuple[ChatClient, FaultyStore]) -> None:
    client, store = faulty
    await client.start()
    store.fail_writes = True
    await client.send("I wet myself and didn't notice")
    store.fail_writes = False
    for _ in range(50):  # the background retry runs every couple of seconds
        await asyncio.sleep(0.1)
        if not client.runtime._unsaved:
            break
    assert not client.runtime._unsaved
    _, profile = await stored_state(store, client.user_id)
    assert profile is not None and profile.hold is not None
    assert profile.hold.sign == "bladder_bowel"


async def test_a_hold_still_ends_while_writes_fail(faulty: tuple[ChatClient, FaultyStore]) -> None:
    client, store = faulty
    await into_hold(client, "Standard")
    store.fail_writes = True
    await client.wait_for("slowly return your leg", timeout=3)


async def test_a_failed_read_still_answers_a_red_flag(
        faulty: tuple[ChatClient, FaultyStore]) -> None:
    client, store = faulty
    store.fail_reads = True
    await client.send("I can't feel anything between my legs")
    assert client.texts[0].startswith("Get emergency help now")
    await client.send("hello")  # nothing alarming: the plain truth, not a fresh welcome
    assert "can't save your progress" in client.texts[-1]
    assert not client.saw("Shall we start?")


async def test_a_flood_gets_one_line_and_red_flags_still_get_through(
        faulty: tuple[ChatClient, FaultyStore]) -> None:
    client, _ = faulty
    client.runtime.flood = FloodGuard(rate=1.0, burst=3)
    await client.start()
    for _ in range(30):
        await client.runtime.dispatch(Text(client.user_id, "hello?"))
    replies = [m.text for m in client.messages[1:]]
    assert sum("That's a lot of messages" in text for text in replies) == 1
    assert len(replies) <= 3 + 1  # the burst, then the one line
    await client.runtime.dispatch(Text(client.user_id, "my leg gave way and I fell"))
    assert any(m.text.startswith("Get medical help now") and m.priority is Priority.SAFETY
               for m in client.messages)
