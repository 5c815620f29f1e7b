"""A test client for the engine and runtime, in the spirit of aiogram-dialog's test_tools:
``send``/``click``/``command`` and the recorded replies, with no transport at all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from back_care_guide.components import Core, build_engine, build_services
from back_care_guide.engine.events import (
    Button,
    Choose,
    Command,
    Priority,
    Send,
    SendDocument,
    SendPhoto,
    Start,
    Text,
)
from back_care_guide.engine.flood import FloodGuard
from back_care_guide.engine.runtime import RecipientGone, Runtime
from back_care_guide.flow.loader import FlowBundle
from back_care_guide.safety.triage import Triage
from back_care_guide.store.base import Store, Transaction
from back_care_guide.store.records import Conversation, Profile
from back_care_guide.store.sqlite import SqliteStore
from back_care_guide.store.state import load_user_state

MONDAY_MORNING = datetime(2025, 3, 10, 9, 0, tzinfo=UTC).timestamp()
T = TypeVar("T")


@dataclass
class Sent:
    user_id: int
    text: str
    buttons: tuple[Button, ...]
    seq: int
    ref: int
    priority: Priority = Priority.REPLY
    silent: bool = False
    wake: bool = False
    edit: bool = False  # an earlier message (``ref``) edited into this one


@dataclass
class RecordingTransport:
    sent: list[Sent] = field(default_factory=list)
    blocked: set[int] = field(default_factory=set)
    photos: list[tuple[int, SendPhoto]] = field(default_factory=list)
    documents: list[tuple[int, SendDocument]] = field(default_factory=list)
    forgotten: list[int] = field(default_factory=list)
    menus: list[tuple[int, str]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, user_id: int, message: Send) -> int | None:
        if user_id in self.blocked:
            raise RecipientGone()
        edit = message.replaces is not None
        ref = message.replaces.ref if message.replaces is not None else len(self.sent) + 1
        self.sent.append(Sent(user_id, message.text, message.buttons, message.seq, ref,
                              message.priority, message.silent, message.wake, edit))
        self.changed.set()
        return ref

    async def send_photo(self, user_id: int, photo: SendPhoto) -> None:
        if user_id in self.blocked:
            raise RecipientGone()
        self.photos.append((user_id, photo))
        self.changed.set()

    async def send_document(self, user_id: int, document: SendDocument) -> None:
        if user_id in self.blocked:
            raise RecipientGone()
        self.documents.append((user_id, document))
        self.changed.set()

    async def forget(self, user_id: int) -> None:
        self.forgotten.append(user_id)

    async def show_menu(self, user_id: int, language: str) -> None:
        self.menus.append((user_id, language))


class ChatClient:
    """One user talking to a runtime."""

    def __init__(self, runtime: Runtime, transport: RecordingTransport, user_id: int = 42) -> None:
        self.runtime = runtime
        self.transport = transport
        self.user_id = user_id
        self.toasts: list[str] = []
        self._mark = 0  # wait_for looks at messages after the last action only

    @property
    def messages(self) -> list[Sent]:
        return [m for m in self.transport.sent if m.user_id == self.user_id]

    @property
    def texts(self) -> list[str]:
        return [m.text for m in self.messages]

    def last_prompt(self) -> Sent:
        for message in reversed(self.messages):
            if message.buttons:
                return message
        raise AssertionError("no message with buttons yet")

    async def start(self) -> None:
        self._mark = len(self.messages)
        self.toasts += await self.runtime.dispatch(Start(self.user_id, "en"))

    async def command(self, name: str, args: str = "") -> None:
        self._mark = len(self.messages)
        self.toasts += await self.runtime.dispatch(Command(self.user_id, name, args))

    async def send(self, text: str, kind: Literal["message", "caption", "edited"] = "message"
                   ) -> None:
        self._mark = len(self.messages)
        self.toasts += await self.runtime.dispatch(Text(self.user_id, text, kind))

    async def click(self, label: str, prompt: Sent | None = None) -> None:
        prompt = prompt or self.last_prompt()
        self._mark = len(self.messages)
        for button in prompt.buttons:
            if label.casefold() in button.label.casefold():
                self.toasts += await self.runtime.dispatch(
                    Choose(self.user_id, prompt.seq, button.choice))
                return
        labels = [b.label for b in prompt.buttons]
        raise AssertionError(f"no button {label!r} on the last prompt; buttons: {labels}")

    async def wait_for(self, text: str, timeout: float = 5.0) -> Sent:
        async def poll() -> Sent:
            while True:
                for message in self.messages[self._mark:]:
                    if text.casefold() in message.text.casefold():
                        return message
                self.transport.changed.clear()
                await self.transport.changed.wait()

        return await asyncio.wait_for(poll(), timeout)

    def saw(self, text: str) -> bool:
        return any(text.casefold() in t.casefold() for t in self.texts)


def make_runtime(bundle: FlowBundle, triage: Triage, db: Path, *, time_scale: float = 0.005,
                 clock: Callable[[], float] = time.time,
                 store: Callable[[Path], Store] = SqliteStore) -> tuple[Runtime, RecordingTransport]:
    engine = build_engine(bundle, time_scale=time_scale, triage=triage, clock=clock)
    transport = RecordingTransport()
    core = Core(bundle, engine, store(db))
    services = build_services(core, clock)
    runtime = Runtime(engine, core.store, transport, services=services, clock=clock)
    runtime.flood = FloodGuard(rate=1000, burst=1000)  # tests type faster than people do
    return runtime, transport


async def read(store: Store, query: Callable[[Transaction], Awaitable[T]]) -> T:
    """What ``query`` reads from the store, in a transaction of its own."""
    async with store.transaction() as tx:
        return await query(tx)


async def stored_state(store: Store, user_id: int) -> tuple[Conversation | None, Profile | None]:
    """What the store holds for the user (conversation with timers, profile)."""
    async with store.transaction() as tx:
        return await load_user_state(tx, user_id)


class ReminderCalls:
    """The reminders of ``store``, each call a transaction of its own: how tests set reminders
    up and look at them (``await reminders.add(...)``, see ``ReminderRepository``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            async with self.store.transaction() as tx:
                return await getattr(tx.reminders, name)(*args, **kwargs)

        return call

    async def close(self) -> None:
        await self.store.close()


class FakeClock:
    """Epoch seconds that move only when the test says so (engine, services and runtime)."""

    def __init__(self, now: float = MONDAY_MORNING) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def build_client(bundle: FlowBundle, triage: Triage, db: Path, clock: Callable[[], float],
                 time_scale: float = 0.5) -> ChatClient:
    """One user on a runtime whose engine, services and timers all use ``clock``."""
    runtime, transport = make_runtime(bundle, triage, db, time_scale=time_scale, clock=clock)
    return ChatClient(runtime, transport)
