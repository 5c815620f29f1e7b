"""The Bot API stand-in with bulk, timed operations for the load benchmark.

    python -m bench.standin_ext [--port N]

This is ``tests.standin`` unchanged (same HTTP face, same strict checks, same control
endpoint and operations) plus operations that act for thousands of users *inside* the
stand-in process, so the benchmark driver is never one RPC per user:

- ``script``: every user performs the same steps (press a button, send a command or a
  text, or just wait), each step as soon as the previous one got its answer. The first
  step is injected for all users in one synchronous loop ("at once"), or at given times,
  or, with ``think``, each step after a reading pause drawn from a seeded random range
  (people reading a question before they tap).
  For every step it returns the injection time, the time of the bot's first visible
  reaction (a message or an edit) and the time of the first new message containing the
  expected text. All times are the stand-in's own ``time.monotonic()`` (the recorder's
  event times), so no clock is compared across processes.
- ``walk``: brings users to a prompt that has a given button, pressing preferred buttons
  on the way (preparation, not timed; survives screens being added to the flow).
- ``collect``: every new message (not edits) whose text contains a given string, as
  ``[chat_id, time]``, optionally after waiting until that many chats have one (messages
  the bot sends on its own, such as reminders).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.standin.control import ControlApi
from tests.standin.models import ChatInfo, Event, StoredMessage
from tests.standin.recorder import WaitTimeout
from tests.standin.server import DEFAULT_TOKEN, BotApiStandin

JSONDict = dict[str, Any]
VISIBLE = frozenset({"message", "photo", "edit", "markup"})  # what a user sees change
NEW = frozenset({"message", "photo", "edit"})  # what can say something new (an answered
# question is often edited into the next one)
RECHECK = 2.0  # waiters are woken by their chat's events; this is only a fallback
MAX_WALK_STEPS = 40
MAX_ERRORS_REPORTED = 5


@dataclass
class StepResult:
    t0: float | None = None  # when the action was injected (None: a pure wait)
    first: float | None = None  # first visible reaction after it
    match: float | None = None  # first new message containing the expected text
    text: str | None = None  # that message's text, if asked for

    def to_json(self) -> JSONDict:
        data: JSONDict = {"t0": self.t0, "first": self.first, "match": self.match}
        if self.text is not None:
            data["text"] = self.text
        return data


@dataclass
class Step:
    do: str  # command | text | click | press_raw | none
    arg: str = ""
    expect: str = ""  # "" means: the first visible reaction is the answer
    capture: bool = False

    @classmethod
    def from_json(cls, data: JSONDict) -> Step:
        do = str(data.get("do", "none"))
        if do not in {"command", "text", "click", "press_raw", "none"}:
            raise ValueError(f"unknown step action {do!r}")
        return cls(do, str(data.get("arg", "")), str(data.get("expect", "")), bool(data.get("capture")))


@dataclass
class UserRun:
    results: list[StepResult] = field(default_factory=list)
    error: str | None = None


def _version(message: StoredMessage) -> tuple[int, int]:
    return message.message_id, len(message.history)


def _event_text(event: Event) -> str:
    return str(event.data.get("text", event.data.get("caption", "")))


class BenchControl(ControlApi):
    """The stand-in's control API plus the bulk operations above."""

    def __init__(self, api: BotApiStandin) -> None:
        super().__init__(api)

    # ------------------------------------------------------------ actions
    def _chat(self, chat_id: int) -> ChatInfo:
        return self.api.chat(chat_id)

    def _act(self, chat_id: int, step: Step) -> None:
        api = self.api
        match step.do:
            case "command":
                api.send_command(chat_id, step.arg)
            case "text":
                api.send_text(chat_id, step.arg)
            case "click":
                message, button = api.find_button(chat_id, step.arg)
                api.press_button(chat_id, message.message_id, str(button.get("callback_data")))
            case "press_raw":
                newest = max((m.message_id for m in self._chat(chat_id).bot_messages()), default=None)
                if newest is None:
                    raise AssertionError(f"chat {chat_id} has no bot message to press on")
                api.press_button_raw(chat_id, newest, step.arg or "x")
            case _:
                pass

    async def _await_step(self, chat: ChatInfo, step: Step, mark: int, result: StepResult,
                          deadline: float) -> int:
        """Wait for the step's answer among ``chat.events[mark:]``; return the index after it."""
        pos = mark
        expect = step.expect.casefold()
        found: list[int] = []

        def ready() -> bool:
            nonlocal pos
            events = chat.events
            while pos < len(events):
                event = events[pos]
                pos += 1
                if event.kind not in VISIBLE:
                    continue
                if result.first is None:
                    result.first = event.time
                if not expect or (event.kind in NEW and expect in _event_text(event).casefold()):
                    result.match = event.time
                    if step.capture:
                        result.text = _event_text(event)
                    found.append(pos)
                    return True
            return False

        remaining = deadline - time.monotonic()
        await self.api.core.recorder.wait_until(ready, max(remaining, 0.0), chat.id, recheck=RECHECK)
        return found[0]

    async def _run_user(self, chat_id: int, steps: list[Step], run: UserRun, deadline: float,
                        pre: tuple[float, int] | None, at: float | None,
                        pause: Callable[[], float] | None = None) -> None:
        chat = self._chat(chat_id)
        after_match = len(chat.events)
        try:
            for index, step in enumerate(steps):
                result = StepResult()
                run.results.append(result)
                if index == 0 and pre is not None:
                    result.t0, mark = pre
                elif step.do == "none":
                    mark = after_match
                else:
                    if index == 0 and at is not None:
                        await asyncio.sleep(max(0.0, at - time.monotonic()))
                    if pause is not None:
                        await asyncio.sleep(pause())
                    mark = len(chat.events)
                    result.t0 = time.monotonic()
                    self._act(chat_id, step)
                after_match = await self._await_step(chat, step, mark, result, deadline)
        except (AssertionError, ValueError) as exc:  # WaitTimeout is an AssertionError
            kind = "timeout" if isinstance(exc, WaitTimeout) else type(exc).__name__
            run.error = f"chat {chat_id} step {len(run.results)}: {kind}: {exc}"[:300]

    async def op_script(self, chat_ids: list[int], steps: list[JSONDict], timeout: float = 60.0,
                        at: list[float] | None = None, concurrency: int = 0,
                        think: list[float] | None = None, seed: int = 0) -> JSONDict:
        """Run ``steps`` for every user; see the module docstring. Bounded by ``timeout``.

        ``concurrency`` > 0: at most that many users run their steps at a time (no burst).
        ``think`` = [low, high]: before each action a user pauses uniformly in that range of
        seconds (random numbers from ``seed``, so runs are repeatable).
        """
        parsed = [Step.from_json(s) for s in steps]
        if not parsed:
            raise ValueError("a script needs at least one step")
        if at is not None and len(at) != len(chat_ids):
            raise ValueError("'at' needs one time per chat")
        started = time.monotonic()
        deadline = started + timeout
        runs = {chat_id: UserRun() for chat_id in chat_ids}
        pre: dict[int, tuple[float, int]] = {}
        pause: Callable[[], float] | None = None
        if think is not None:
            low, high = think
            rng = random.Random(seed)
            pause = lambda: rng.uniform(low, high)  # noqa: E731
        if at is None and concurrency <= 0 and pause is None and parsed[0].do != "none":
            for chat_id in chat_ids:  # all first actions in one go, before the bot can fetch any
                chat = self._chat(chat_id)
                mark = len(chat.events)
                t0 = time.monotonic()
                try:
                    self._act(chat_id, parsed[0])
                except (AssertionError, ValueError) as exc:
                    runs[chat_id].error = f"chat {chat_id} step 1: {exc}"[:300]
                    continue
                pre[chat_id] = (t0, mark)
        injected = time.monotonic()
        slots = asyncio.Semaphore(concurrency) if concurrency > 0 else None

        async def one(i: int, chat_id: int) -> None:
            args = (chat_id, parsed, runs[chat_id], deadline, pre.get(chat_id),
                    at[i] if at is not None else None, pause)
            if slots is None:
                await self._run_user(*args)
                return
            async with slots:
                await self._run_user(*args)

        tasks = [asyncio.create_task(one(i, chat_id))
                 for i, chat_id in enumerate(chat_ids) if runs[chat_id].error is None]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout + 5.0)
        for task in tasks:
            task.cancel()
        errors = [r.error for r in runs.values() if r.error is not None]
        return {
            "started": started,
            "inject_seconds": injected - started,
            "injected": len(pre),
            "failed": len(errors),
            "errors": errors[:MAX_ERRORS_REPORTED],
            "users": {str(c): [s.to_json() for s in r.results] for c, r in runs.items()},
        }

    # ------------------------------------------------------------ preparation
    @staticmethod
    def _prompt(chat: ChatInfo, newer_than: tuple[int, int]) -> StoredMessage | None:
        """The newest live bot message with buttons, if newer than ``newer_than`` (message
        id and edit count: a question edited into the next one is a new prompt)."""
        best: StoredMessage | None = None
        for message in chat.bot_messages():
            if _version(message) > newer_than and message.buttons and (
                    best is None or message.message_id > best.message_id):
                best = message
        return best

    async def _walk_user(self, chat_id: int, start: bool, goal: str, prefer: list[str],
                         deadline: float, settle: float) -> str | None:
        chat = self._chat(chat_id)
        newer_than = max((_version(m) for m in chat.messages.values()), default=(0, 0)) if start else (0, 0)
        if start:
            self.api.send_command(chat_id, "start")
        found: list[StoredMessage] = []

        def ready() -> bool:
            prompt = self._prompt(chat, newer_than)
            if prompt is None:
                return False
            found[:] = [prompt]
            return True

        try:
            for _ in range(MAX_WALK_STEPS):
                await self.api.core.recorder.wait_until(
                    ready, max(0.0, deadline - time.monotonic()), chat_id, recheck=RECHECK)
                prompt = found[0]
                if prompt.find_button(goal) is not None:
                    return None
                button = next((b for label in prefer if (b := prompt.find_button(label)) is not None), None)
                if button is None:
                    # e.g. still in a hold (Stop / Warning sign): wait a while for the next prompt
                    newer_than = _version(prompt)
                    wait = min(settle, deadline - time.monotonic())
                    if wait <= 0:
                        return f"chat {chat_id}: no preferred button among {prompt.button_labels()}"
                    await self.api.core.recorder.wait_until(ready, wait, chat_id, recheck=RECHECK)
                    continue
                newer_than = _version(prompt)
                self.api.press_button(chat_id, prompt.message_id, str(button.get("callback_data")))
        except AssertionError as exc:
            return f"chat {chat_id}: {type(exc).__name__}: {exc}"[:300]
        return f"chat {chat_id}: goal {goal!r} not reached in {MAX_WALK_STEPS} steps"

    async def op_walk(self, chat_ids: list[int], goal: str, prefer: list[str], start: bool = True,
                      timeout: float = 120.0, concurrency: int = 100, settle: float = 0.0) -> JSONDict:
        """Bring every user to a prompt with a button containing ``goal`` (bounded).

        At most ``concurrency`` users walk at a time: preparation should not overload the
        bot. A prompt without any preferred button fails the user, unless a newer prompt
        comes within ``settle`` seconds. Returns the users who failed.
        """
        deadline = time.monotonic() + timeout
        slots = asyncio.Semaphore(max(1, concurrency))
        problems: dict[int, str] = {}

        async def one(chat_id: int) -> None:
            async with slots:
                problem = await self._walk_user(chat_id, start, goal, prefer, deadline, settle)
            if problem is not None:
                problems[chat_id] = problem

        tasks = [asyncio.create_task(one(c)) for c in chat_ids]
        _done, pending = await asyncio.wait(tasks, timeout=timeout + 5.0)
        for task in pending:
            task.cancel()
        for chat_id, task in zip(chat_ids, tasks, strict=True):
            if task in pending:
                problems.setdefault(chat_id, f"chat {chat_id}: walk timed out")
        return {"reached": len(chat_ids) - len(problems), "failed_ids": sorted(problems),
                "errors": list(problems.values())[:MAX_ERRORS_REPORTED]}

    async def op_collect(self, text: str, chats: int = 0, timeout: float = 0.0) -> JSONDict:
        """New messages containing ``text``, in recording order, as ``[chat_id, time]``.

        With ``chats`` > 0, first waits (at most ``timeout`` s) until that many distinct chats
        have received one; ``reached`` says whether they did.
        """
        needle = text.casefold()
        recorder = self.api.core.recorder
        found: list[tuple[int, float]] = []
        seen: set[int] = set()
        pos = 0

        def scan() -> bool:
            nonlocal pos
            events = recorder.events
            while pos < len(events):
                event = events[pos]
                pos += 1
                if event.kind in NEW and needle in _event_text(event).casefold():
                    found.append((event.chat_id, event.time))
                    seen.add(event.chat_id)
            return len(seen) >= chats

        reached = True
        if chats > 0:
            try:
                await recorder.wait_until(scan, max(timeout, 0.0), None, recheck=RECHECK)
            except WaitTimeout:
                reached = False
        scan()
        return {"reached": reached, "chats": len(seen), "events": found, "now": time.monotonic()}

    async def op_clock(self) -> float:
        """The stand-in's monotonic clock (to check it is the driver's)."""
        return time.monotonic()


class BenchStandin(BotApiStandin):
    """:class:`BotApiStandin` whose control endpoint also serves :class:`BenchControl`."""

    def __init__(self, token: str = DEFAULT_TOKEN, **kwargs: Any) -> None:
        super().__init__(token, **kwargs)
        self._control = BenchControl(self)


async def serve(port: int, token: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with BenchStandin(token, port=port) as api:
        print(api.base_url, flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.standin_ext", description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args.token))


if __name__ == "__main__":
    main()
