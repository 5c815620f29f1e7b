"""Stateful property test of the safety outcomes over the engine, the runtime and SQLite.

Hypothesis drives one person through random sequences of button presses (the latest
prompt's and stale ones), typed texts of every tier (and negations, questions, chit-chat),
hold timers, restarts, commands and jumps of the clock. A model built only from what the
person saw checks, after every step:

* no exercise cue while an emergency, urgent or clinician outcome holds, until a
  clearance the gate accepted (24 h for red flags, the next local day for clinician
  signs) or a mis-tap correction; none after stop-today on the same local day;
* no exercise cue without the whole screening (four groups and the pain scale) since
  the session began;
* no timer message (halfway, release, "paused while offline") unless a hold is running:
  never after a stop or an outcome;
* an outcome is never milder than the one in force.

The event loop runs on virtual time: ``loop.time()`` is the test's clock, so hold timers
fire when the test moves the clock, never by waiting.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from back_care_guide.components import build_triage
from back_care_guide.engine.engine import Engine
from back_care_guide.engine.events import Choose, Command, Event, Start, Text
from back_care_guide.engine.runtime import Runtime
from back_care_guide.flow.loader import FlowBundle, load_bundle
from back_care_guide.flow.texts import Texts
from back_care_guide.safety.emergency import default_numbers
from back_care_guide.safety.triage import Triage
from back_care_guide.safety.triage_rules import SEVERITY, Tier
from back_care_guide.store.sqlite import SqliteStore
from tests.harness import RecordingTransport, Sent

T = TypeVar("T")
UID = 7
HOUR, DAY = 3600.0, 86400.0
START = datetime(2025, 3, 10, 8, 0, tzinfo=UTC).timestamp()
RED_FLAGS = (Tier.EMERGENCY, Tier.URGENT)

# BUG (see tests/test_screening.py::test_mistap_correction_keeps_an_earlier_outcome): a
# mis-tap correction clears every hold, also one in force before the mis-tap. Until the
# engine keeps it, the model follows the engine here; set True once that is fixed.
MISTAP_KEEPS_EARLIER_HOLD = True

# Hypothesis tries the first entries of a list most: harmless ones come first, so that
# runs get deep into sessions before something stops them. Each kind also has its own
# rule, so that every run meets outcomes too.
CHAT = (
    "hello", "thanks, that was nice", "I'm in position", "None of these", "No", "Yes",
    "3", "8", "Germany",
    # negations, questions, other people
    "no numbness or weakness at all",
    "I don't have any bladder problems",
    "my dad had a slipped disc",
    "what does saddle numbness mean?",
)
CLINICIAN_OR_STOP = (
    "ouch, sharp stabbing pain just now",
    "I had back surgery last year",
    "my pain is a 9 out of 10",
    "I had bowel cancer years ago",
)
RED_FLAGS_TYPED = (
    # hedged (one confirmation question), also with a clinician sign
    "my foot feels a bit tingly I think",
    "my leg feels a bit weak maybe, and I have osteoporosis",
    # plain
    "my left leg has gone numb from the knee down to my foot",
    "my foot keeps dragging when I walk",
    "both my legs have gone numb",
    "I've lost control of my bladder since this morning",
)
TEXTS = CHAT + CLINICIAN_OR_STOP + RED_FLAGS_TYPED
KINDS = st.sampled_from(["message", "message", "message", "caption", "edited"])
# What "carry on" taps, most preferred first: the way a clear person moves through.
CARRY_ON = ("agree", "none", "r3", "standard", "go", "fine", "skip", "resume", "back",
            "cleared", "no", "mistap")


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose time is the test's clock (epoch seconds)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self._virtual = clock

    def time(self) -> float:
        return self._virtual.now


@dataclass
class Clock:
    now: float = START

    def __call__(self) -> float:
        return self.now


@dataclass
class Lock:
    tier: Tier
    since: float  # the earliest report of this episode: the model is never stricter
    day: date  # local (UTC) day of ``since``


@dataclass
class Model:
    """What the person was told, and so what must (not) come next."""

    lock: Lock | None = None
    screened: set[str] = field(default_factory=set)  # this session's screening steps
    before_outcome: tuple[Lock | None, set[str]] = (None, set())
    in_hold: bool = False


_SHARED: dict[str, Any] = {}


def shared() -> tuple[FlowBundle, Triage]:
    if not _SHARED:
        bundle = load_bundle()
        _SHARED.update(bundle=bundle, triage=build_triage(bundle), numbers=default_numbers())
    return _SHARED["bundle"], _SHARED["triage"]


async def _cancel_the_rest() -> None:
    """Cancel what a closed runtime leaves (its idle sweeper) and let it finish."""
    tasks = asyncio.all_tasks() - {asyncio.current_task()}
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def exercise_cues(bundle: FlowBundle) -> tuple[str, ...]:
    """The opening words of every text said in an exercise step, and "Halfway there"."""
    en = bundle.texts("en")
    keys = {"hold.halfway"}
    for state in bundle.flow.states.values():
        if bundle.safety.exercise_tag in state.tags:
            keys.update(state.say)
            keys.update(k for k in (state.ask, state.halfway) if k)
    return tuple(sorted({en.get(key).split("{")[0].strip()[:40] for key in keys}))


def forward_first(choice: str) -> int:
    """Sort key: the buttons a clear person taps first, then the rest as shown."""
    return CARRY_ON.index(choice) if choice in CARRY_ON else len(CARRY_ON)


def day_of(now: float) -> date:
    return datetime.fromtimestamp(now, UTC).date()


class SafetyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.flows, self.triage = shared()
        self.en: Texts = self.flows.texts("en")
        self.cues = exercise_cues(self.flows)
        self.clock = Clock()
        self.loop = VirtualTimeLoop(self.clock)
        self.folder = Path(tempfile.mkdtemp(prefix="triage-props-"))
        self.db = self.folder / "bot.db"
        self.log: list[Sent] = []  # every message, across restarts
        self.model = Model()
        self.runtime, self.transport = self._build()
        self._read = 0
        self._run(self.runtime.start())
        self._texts()

    # ------------------------------------------------------------ plumbing
    def _build(self) -> tuple[Runtime, RecordingTransport]:
        engine = Engine(self.flows, self.triage, numbers=_SHARED["numbers"], time_scale=1.0,
                        clock=self.clock)
        transport = RecordingTransport()
        # Users stay in memory between steps (eviction costs a gc.collect() per sweep);
        # the restart rule is what reloads them from the store.
        runtime = Runtime(engine, SqliteStore(self.db), transport, clock=self.clock,
                          idle_evict=1e9)
        return runtime, transport

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(work)

    async def _settle(self) -> None:
        """Let due timers fire and their events finish."""
        for _ in range(3):
            await asyncio.sleep(0)
            while self.runtime._tasks:
                await asyncio.gather(*list(self.runtime._tasks))

    def _dispatch(self, event: Event) -> list[str]:
        toasts = self._run(self.runtime.dispatch(event))
        self._run(self._settle())
        return toasts

    def _texts(self) -> list[Sent]:
        new = self.transport.sent[self._read:]
        self._read = len(self.transport.sent)
        self.log += new
        return new

    def _key(self, key: str) -> str:
        return self.en.get(key).split("{")[0].strip()

    def _headline(self, tier: Tier) -> str:
        return self._key(self.flows.triage.tiers.rule(tier).message)

    def teardown(self) -> None:
        try:
            self._run(self.runtime.close())
            self._run(_cancel_the_rest())
        finally:
            self.loop.close()
            shutil.rmtree(self.folder, ignore_errors=True)

    # ------------------------------------------------------------ rules
    @rule()
    def come_back_for_a_session(self) -> None:
        """/start, then straight through whatever is asked, as a clear person would."""
        self.command("start")
        self.carry_on(16)

    @rule(data=st.data())
    def press_a_button(self, data: st.DataObject) -> None:
        """Any button of the latest prompts, stale ones included."""
        prompts = [m for m in self.log if m.buttons and m.seq][-3:]
        if not prompts:
            return
        prompt = data.draw(st.sampled_from(prompts[::-1]), label="prompt")
        choices = sorted((b.choice for b in prompt.buttons), key=forward_first)
        self._press(prompt, data.draw(st.sampled_from(choices), label="choice"))

    @rule(taps=st.sampled_from([12, 3, 1]))
    def carry_on(self, taps: int) -> None:
        """Tap the latest prompt's most forward-going button, as a clear person does
        (runs of taps get through the screening into the stretches)."""
        for _ in range(taps):
            prompts = [m for m in self.log if m.buttons and m.seq
                       and not m.buttons[0].choice.startswith("country_")]
            if not prompts:
                return
            choices = [b.choice for b in prompts[-1].buttons]
            if choices == ["stop", "warning"]:  # a hold: wait it out
                self.let_time_pass(31.0)
                continue
            pick = min(choices, key=forward_first)
            if not self._press(prompts[-1], pick):
                return

    @rule(text=st.sampled_from(RED_FLAGS_TYPED), kind=KINDS)
    def report_a_red_flag(self, text: str, kind: Literal["message", "caption", "edited"]
                          ) -> None:
        self.type_text(text, kind)

    @rule(text=st.sampled_from(CLINICIAN_OR_STOP), kind=KINDS)
    def report_another_sign(self, text: str, kind: Literal["message", "caption", "edited"]
                            ) -> None:
        self.type_text(text, kind)

    @rule(text=st.sampled_from(TEXTS), kind=KINDS)
    def type_text(self, text: str, kind: Literal["message", "caption", "edited"]) -> None:
        before = self._state()
        self._dispatch(Text(UID, text, kind))
        after = self._state()
        # Typed answers are read loosely ("no, none of those"): what the text answered is
        # where it took the conversation, a screening step on to the step after it.
        step = self.flows.flow.states[before]
        answered = None
        if after != before and after == step.next:
            answered = step.group if step.kind == "screen" else (
                "pain" if step.rate == "pain_before" else None)
        self._observe(pressed=None, answered=answered)

    @rule(name=st.sampled_from(["start", "start", "stop", "redflags", "help"]))
    def command(self, name: str) -> None:
        self._dispatch(Start(UID, "en") if name == "start" else Command(UID, name))
        self._observe(pressed=None)

    @rule(seconds=st.sampled_from([31.0, 10.0, 16.0, 5.0, 700.0]))
    def let_time_pass(self, seconds: float) -> None:
        """Hold timers fire when their time comes (late ones ask before resuming)."""
        self.clock.now += seconds
        self._run(self._settle())
        self._observe(pressed=None)

    @rule(jump=st.sampled_from(["midnight", "hour", "23h", "24h", "25h", "3d"]))
    def jump_the_clock(self, jump: str) -> None:
        if jump == "midnight":
            tomorrow = day_of(self.clock.now) + timedelta(days=1)
            self.clock.now = datetime.combine(tomorrow, datetime.min.time(), UTC).timestamp() + 1
        else:
            self.clock.now += {"hour": HOUR, "23h": 23 * HOUR, "24h": 24 * HOUR + 1,
                               "25h": 25 * HOUR, "3d": 3 * DAY}[jump]
        self._run(self._settle())
        self._observe(pressed=None)

    @rule()
    def restart(self) -> None:
        """The process goes away and comes back: a new runtime on the same database."""
        self._run(self.runtime.close())
        self._texts()
        self._run(self._settle())
        self.runtime, self.transport = self._build()
        self._read = 0
        self._run(self.runtime.start())
        self._run(self._settle())
        self._observe(pressed=None)

    # ------------------------------------------------------------ the model
    def _press(self, prompt: Sent, choice: str) -> bool:
        """Tap a button; whether it did anything (a stale one only gets a toast)."""
        toasts = self._dispatch(Choose(UID, prompt.seq, choice))
        if toasts:
            self._observe(pressed=None)
        else:
            self._observe(pressed=(prompt, choice), answered=self._answers(prompt, choice))
        return not toasts

    def _state(self) -> str:
        conv, _ = self._run(self.runtime._load(UID))
        return conv.state

    def _answers(self, prompt: Sent, answer: str) -> str | None:
        """The screening step an answer clears: a group's "None of these" (tapped or
        typed), or a pain rating below severe before the stretches."""
        if answer == "none":
            for name, group in self.flows.triage.groups.items():
                if self.en.get(group.question) in prompt.text:
                    return name
        rating = answer.removeprefix("r")
        if rating.isdigit() and int(rating) < self.flows.triage.pain_scale.from_ and (
                self.en.get("rating.before") in prompt.text):
            return "pain"
        return None

    def _lock_active(self) -> bool:
        lock = self.model.lock
        if lock is None:
            return False
        if lock.tier is Tier.STOP_TODAY:
            return day_of(self.clock.now) <= lock.day
        return True

    def _observe(self, pressed: tuple[Sent, str] | None, answered: str | None = None) -> None:
        model = self.model
        if answered is not None:
            model.screened.add(answered)
        if pressed is not None and pressed[1] == "no" and self._key(
                "triage.mistap_recheck") in pressed[0].text:
            event("mis-tap corrected")
            lock, screened = model.before_outcome  # a mis-tap corrected
            model.lock = lock if MISTAP_KEEPS_EARLIER_HOLD else None
            model.screened = set(screened)
        for message in self._texts():
            self._check(message.text)

    def _check(self, text: str) -> None:
        model, en = self.model, self.en
        lower = text.lower()
        now = self.clock.now
        # -- timer messages only while a hold runs
        timer_keys = ("hold.halfway", "ktc.release", "ktc.both_release", "twist.release",
                      "resume.ask")
        if any(text.startswith(self._key(k)) for k in timer_keys):
            event("timer message")
            assert model.in_hold, f"timer message outside a running hold: {text[:80]!r}"
        # -- outcomes
        for tier in (Tier.EMERGENCY, Tier.URGENT, Tier.CLINICIAN, Tier.STOP_TODAY):
            if text.startswith(self._headline(tier)):
                self._outcome(tier, now)
        # -- a clearance the gate accepted
        if text.startswith(self._key("locked.recheck")):
            lock = model.lock
            assert lock is not None and self._lock_active(), "a clearance without a hold"
            if lock.tier in RED_FLAGS:
                assert now >= lock.since + 24 * HOUR, "red-flag clearance before 24 h"
            else:
                assert lock.tier is Tier.CLINICIAN, lock
                assert day_of(now) > lock.day, "clinician clearance on the same local day"
            model.lock = None
            event("clearance accepted")
        # -- sessions and screening
        if text.startswith(self._key("welcome.what")) or text.startswith(
                self._key("stopped.done")):
            model.screened = set()
        # -- exercise cues
        if any(cue in text for cue in self.cues):
            event("exercise cue")
            assert not self._lock_active(), (
                f"exercise cue while {model.lock} holds: {text[:80]!r}")
            missing = {*self.flows.triage.groups, "pain"} - model.screened
            assert not missing, f"exercise cue without screening {missing}: {text[:80]!r}"
        # -- is a hold running?
        if "hold for" in lower or "hold the gentle twist" in lower:
            model.in_hold = True
        elif not any(text.startswith(self._key(k)) for k in (
                "hold.halfway", "help.text", "country.ask", "country.saved", "country.unknown",
                "triage.cleared_before", "resume.where", "resume.holding") if k in en
        ) and not any(
                text == en.get(f"system.{k}") for k in (
                "use_buttons", "moved_on", "no_session", "unknown_command", "not_text",
                "too_long", "session_over")):
            model.in_hold = False

    def _outcome(self, tier: Tier, now: float) -> None:
        model = self.model
        event(f"outcome: {tier.value}")
        active = model.lock if self._lock_active() else None
        if active is not None:
            assert SEVERITY[tier] <= SEVERITY[active.tier], (
                f"{tier} outcome while the more severe {active.tier} holds")
        model.before_outcome = (active, set(model.screened))
        if active is None or SEVERITY[tier] < SEVERITY[active.tier]:
            model.lock = Lock(tier, now, day_of(now))
        model.screened = set()
        model.in_hold = False

    @invariant()
    def nothing_pending_without_a_hold(self) -> None:
        """Armed timers only while the conversation is in a hold state."""
        entry = self.runtime._active.get(UID)
        if entry is not None and entry[0].timers:
            state = self.flows.flow.states[entry[0].state]
            assert state.kind == "hold", (entry[0].state, entry[0].timers)


SafetyMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None, derandomize=True,
    database=None, suppress_health_check=[HealthCheck.too_slow])
TestSafetyMachine = SafetyMachine.TestCase
