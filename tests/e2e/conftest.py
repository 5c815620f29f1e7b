"""End-to-end fixtures: the real bot as a subprocess against the Bot API stand-in."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from back_care_guide.reminders.schedule import ReminderRule
from back_care_guide.store import open_store
from back_care_guide.store.records import Profile
from tests.standin import BotApiStandin
from tests.standin.models import StoredMessage

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456789:AAE-test-token-for-the-standin_0123"
TIME_SCALE = "0.01"  # a 20-second hold takes 0.2 s


class BotProcess:
    """``python -m back_care_guide run`` as a real process, pointed at the stand-in."""

    def __init__(self, api: BotApiStandin, db: Path, extra_env: dict[str, str] | None = None) -> None:
        self.api = api
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": api.base_url,
            "DATABASE_URL": f"sqlite:///{db}",
            "FLOW_TIME_SCALE": TIME_SCALE,
            "TELEGRAM_MAX_RATE": "0",
            "LOG_LEVEL": "INFO",
            **(extra_env or {}),
        }
        self.process: asyncio.subprocess.Process | None = None
        self.log_file = db.with_suffix(".log")

    async def start(self, ready: bool = True) -> None:
        commands_before = self.api.calls.get("setmycommands", 0)
        with self.log_file.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "back_care_guide", "run", cwd=ROOT, env=self.env,
                stdout=log, stderr=log)
        if ready:
            try:
                await self.api.wait_until(
                    lambda: self.api.calls.get("setmycommands", 0) > commands_before, timeout=20)
            except BaseException:
                await self.stop(signal.SIGKILL)  # never leave a bot running behind a failed test
                raise

    @property
    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(sig)
        try:
            return await asyncio.wait_for(self.process.wait(), 15)
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()


async def seed_due_reminders(database_url: str, users: list[int], ago: float) -> float:
    """A UTC profile and a daily reminder per user whose occurrence today was about ``ago``
    seconds ago (well under the hour after which a reminder is skipped), written in one
    transaction before the bot starts; the store is closed again. Returns the due time."""
    minute = int((time.time() - ago) // 60 * 60)
    at = dt.datetime.fromtimestamp(minute, dt.UTC)
    rule = ReminderRule(dt.time(at.hour, at.minute), False, "UTC")
    store = open_store(database_url)  # creates (migrates) the schema
    try:
        async with store.transaction() as tx:
            for uid in users:  # "now" a minute before the occurrence: the next fire is that minute
                await tx.profiles.save(Profile(uid, timezone="UTC"))
                reminder = await tx.reminders.add(uid, rule, minute - 60)
                assert reminder.next_fire_utc == minute
    finally:
        await store.close()
    return float(minute)


@pytest.fixture
async def api() -> AsyncIterator[BotApiStandin]:
    async with BotApiStandin(token=TOKEN) as standin:
        yield standin
        assert standin.internal_errors == []


@pytest.fixture
async def bot(api: BotApiStandin, tmp_path: Path) -> AsyncIterator[BotProcess]:
    process = BotProcess(api, tmp_path / "bot.db")
    await process.start()
    yield process
    code = await process.stop()
    assert " ERROR bot." not in process.log, process.log  # our handlers never failed
    assert code == 0, process.log


class Person:
    """A Telegram user as the tests drive them: act, then wait for the bot's *new* messages."""

    def __init__(self, api: BotApiStandin, user_id: int) -> None:
        self.api = api
        self.user = api.user(user_id, first_name=f"User{user_id}")
        self.id = user_id
        self.mark = 0
        self._versions: dict[int, int] = {}

    @property
    def sent(self) -> list[StoredMessage]:
        return self.api.sent_messages(self.id)

    @property
    def texts(self) -> list[str]:
        return [m.text for m in self.sent]

    def _act(self) -> None:
        self.mark = len(self.sent)
        self._versions = {m.message_id: len(m.history) for m in self.sent}

    @property
    def fresh(self) -> list[StoredMessage]:
        """Messages sent, or edited into something new, since the last action (an answered
        question is often edited into the next one)."""
        return [m for i, m in enumerate(self.sent)
                if i >= self.mark or len(m.history) != self._versions.get(m.message_id, 0)]

    async def command(self, name: str) -> None:
        self._act()
        await self.user.command(name)

    async def send(self, text: str) -> None:
        self._act()
        await self.user.send(text)

    async def click(self, label: str) -> None:
        self._act()
        await self.user.click(label)

    async def expect(self, text: str, timeout: float = 10.0) -> StoredMessage:
        """The first message after the last action that contains ``text``."""
        found: list[StoredMessage] = []

        def seen() -> bool:
            for message in self.fresh:
                if text.casefold() in message.text.casefold():
                    found.append(message)
                    return True
            return False

        await self.api.wait_until(seen, timeout, self.id)
        return found[0]

    async def step(self, label: str, expect: str) -> StoredMessage:
        await self.click(label)
        return await self.expect(expect)


Step = Callable[[Person], Awaitable[None]]


# The screening (flows/lower_back.yaml screen_*): four lists, each a button per sign and
# "None of these" (flows/locales/en.yaml triage.none); then the 0-10 pain rating.
NONE_OF_THESE = "None of these"
FIRST_SCREEN = "Safety check, 1 of 4"
PAIN_BEFORE = "how much does your back hurt"
NEXT_SCREENS = ("Safety check, 2 of 4", "Safety check, 3 of 4", "Safety check, 4 of 4", PAIN_BEFORE)
PREPARE = "How long should each hold be"
# The triage outcomes (triage.message.*) and the mis-tap offer that follows a sign button.
EMERGENCY = "Get emergency help now"
URGENT = "Get medical help now"
CLINICIAN = "Please don't do these stretches for now"
STOP_TODAY = "Stop the stretch now"
MISTAP = "Tapped that by mistake?"


async def begin(person: Person) -> None:
    """/start and agree: the first screening list is showing."""
    await person.command("start")
    await person.expect("Shall we start?")
    await person.step("let's start", FIRST_SCREEN)


async def clear_screening(person: Person) -> None:
    """From the first list: "None of these" on every list, up to the pain rating."""
    for following in NEXT_SCREENS:
        await person.step(NONE_OF_THESE, following)


async def screening(person: Person) -> None:
    await begin(person)
    await clear_screening(person)
    await person.step("5", PREPARE)


async def full_session(person: Person) -> None:
    await screening(person)
    await person.step("Standard", "knee-to-chest")
    await person.step("in position", "Hold for 20 seconds")
    await person.expect("Slowly return your leg")
    await person.step("No pain", "right knee")
    await person.step("in position", "Hold for 20 seconds")
    await person.expect("Slowly return your leg")
    await person.step("No pain", "both knees up together")
    await person.step("Skip to the twist", "gentle spinal twist")
    for after in ("together to the right", "how much does your back hurt"):
        await person.step("in position", "Hold the gentle twist for 25 seconds")
        await person.expect("back to the centre")
        await person.step("No pain", after)
    await person.step("3", "Well done")


@pytest.fixture
def person(api: BotApiStandin) -> Person:
    return Person(api, 1001)
