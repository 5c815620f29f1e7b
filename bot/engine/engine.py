"""The conversation engine: events in, effects out, one shared state machine per flow.

The machine is built once from the YAML flow with ``transitions`` (``model=None``,
``auto_transitions=False``, ``queued="model"``). Each active user is a small
:class:`~bot.store.records.Conversation` registered as a model; idle users are removed
from the machine and live only in the store (see :mod:`bot.engine.runtime`).

Safety rules the code relies on:
- every free text goes through the detector before the flow sees it;
- leaving any state cancels the user's timers *before* any message is emitted, so an
  urgent-care or stop message is never followed by a message of the interrupted hold;
- timer events carry the hold's epoch and are ignored unless they match the current one.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

from transitions.core import listify
from transitions.extensions.asyncio import AsyncMachine

from bot.engine.events import (
    Button,
    CancelTimers,
    Choose,
    ClosePrompt,
    Command,
    Effect,
    Event,
    LogSession,
    Schedule,
    Send,
    Start,
    Text,
    Timer,
    TimerFired,
    Toast,
)
from bot.flow.graph import resume_point, subflow_states
from bot.flow.loader import FlowBundle
from bot.flow.model import RETURN, Choice, State
from bot.flow.texts import Texts
from bot.safety.detection import Detector, Outcome
from bot.safety.emergency import Country, EmergencyNumbers
from bot.safety.emergency_line import numbers_line
from bot.store.records import Conversation, Profile

LATE_RESUME_AFTER = 600.0  # a hold that ended longer ago than this asks before resuming
LONG_TEXT = 1000  # characters; longer messages are not matched against button labels
STOP, WARNING = "stop", "warning"  # the interrupt buttons shown during exercises
URGENT_TAG = "urgent"

COUNTRY_PREFIX = "country_"  # choice ids of the country picker
RATING_MIN, RATING_MAX = 0, 10  # the pain scale of rating states


def _rating(choice: str) -> int | None:
    """``r0`` .. ``r10`` → the rating, anything else → None."""
    digits = choice[1:]
    if choice[:1] == "r" and digits.isdigit() and RATING_MIN <= int(digits) <= RATING_MAX:
        return int(digits)
    return None


class FlowMachine(AsyncMachine):
    """An ``AsyncMachine`` whose models cost little to add, keep and remove.

    transitions normally binds ``is_<state>``, ``may_<trigger>`` and one method per trigger
    to every model (tens of attributes per user), checks membership with a list scan on
    every ``add_model`` and removes with another. The engine triggers events through
    ``machine.events``, so a model here is registered with just its state, added or
    removed in constant time, and has its own event queue (``queued="model"``) only
    while one of its events is being processed.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._positions: dict[int, int] = {}  # id(model) -> index in self.models
        self.flow_start: str = kwargs["initial"]
        super().__init__(**kwargs)
        self._transition_queue_dict: defaultdict[int, deque[Any]] = defaultdict(deque)

    async def _process_async(self, trigger: Any, model: Any) -> bool:
        try:
            result: bool = await super()._process_async(trigger, model)
            return result
        finally:
            if not self._transition_queue_dict.get(id(model), True):
                del self._transition_queue_dict[id(model)]  # empty: drop it until the next event

    def add_model(self, model: Any, initial: Any = None) -> None:
        for mod in listify(model):
            if id(mod) in self._positions:
                continue
            self.set_state(initial if initial is not None else self.flow_start, model=mod)
            self._positions[id(mod)] = len(self.models)
            self.models.append(mod)

    def remove_model(self, model: Any) -> None:
        for mod in listify(model):
            position = self._positions.pop(id(mod))
            last = self.models.pop()
            if last is not mod:  # move the last model into the freed slot
                self.models[position] = last
                self._positions[id(last)] = position
            self._transition_queue_dict.pop(id(mod), None)


class Engine:
    def __init__(
        self,
        bundle: FlowBundle,
        detector: Detector,
        *,
        numbers: EmergencyNumbers | None = None,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bundle = bundle
        self.flow = bundle.flow
        self.detector = detector
        self.numbers = numbers
        self.time_scale = time_scale
        self.clock = clock
        self._subflow = subflow_states(self.flow)
        self.machine = FlowMachine(
            model=None,
            states=list(self.flow.states),
            initial=self.flow.start,
            transitions=self._transitions(),
            auto_transitions=False,
            queued="model",
            send_event=True,
            before_state_change=self._leaving,
            after_state_change=self._entered,
        )

    # ------------------------------------------------------------ machine
    def _transitions(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = []
        for name, state in self.flow.states.items():
            for choice in state.choices:
                if choice.to and choice.to != RETURN:
                    result.append({"trigger": choice.id, "source": name, "dest": choice.to})
            if state.next:
                trigger = "rated" if state.kind == "rating" else "release"
                result.append({"trigger": trigger, "source": name, "dest": state.next})
        # Interrupts, calls and returns can land in any state from any state.
        for name in self.flow.states:
            result.append({"trigger": f"goto_{name}", "source": "*", "dest": name})
        return result

    def attach(self, conversation: Conversation) -> None:
        """Register an active user's model with the machine, in its stored state."""
        self.machine.add_model(conversation, initial=conversation.state)

    def detach(self, conversation: Conversation) -> None:
        self.machine.remove_model(conversation)

    def new_conversation(self, user_id: int) -> Conversation:
        return Conversation(user_id, self.flow.start, {"seq": 0, "epoch": 0, "fresh": True})

    async def _trigger(self, conv: Conversation, trigger: str) -> None:
        await self.machine.events[trigger].trigger(conv)

    async def _goto(self, conv: Conversation, state: str) -> None:
        await self._trigger(conv, f"goto_{state}")

    # ------------------------------------------------------------ entry point
    async def handle(self, conv: Conversation, profile: Profile, event: Event) -> list[Effect]:
        """Apply one event to one user; return what must happen, in order."""
        conv.effects = []
        conv.profile = profile
        prompt_before = conv.prompt
        try:
            match event:
                case Choose():
                    await self._on_choose(conv, event)
                case Text():
                    await self._on_text(conv, event.text)
                case TimerFired():
                    await self._on_timer(conv, event)
                case Start():
                    self._set_language(profile, event.language)
                    await self._start(conv)
                case Command():
                    self._set_language(profile, event.language)
                    await self._on_command(conv, event)
            # Buttons of a prompt that the flow has moved past come off (after the news).
            if prompt_before is not None and conv.prompt is prompt_before and self._moved(conv):
                conv.effects.append(ClosePrompt(prompt_before))
                conv.prompt = None
            return conv.effects
        finally:
            conv.effects = []
            conv.profile = None

    @staticmethod
    def _moved(conv: Conversation) -> bool:
        return conv.prompt is not None and conv.prompt.seq != conv.ctx.get("seq")

    @staticmethod
    def _set_language(profile: Profile, language: str | None) -> None:
        if language and not profile.language:
            profile.language = language.split("-")[0].lower()

    # ------------------------------------------------------------ events
    async def _on_choose(self, conv: Conversation, event: Choose) -> None:
        texts = self._texts(conv)
        state = self.flow.states[conv.state]
        if event.seq != conv.ctx.get("seq"):  # a button of an earlier or foreign message
            conv.effects.append(Toast(texts.get("system.moved_on")))
            return
        if (conv.ctx.get("asking") == "country" and event.choice.startswith(COUNTRY_PREFIX)
                and self.numbers is not None):
            code = event.choice.removeprefix(COUNTRY_PREFIX)
            if code in self.numbers:
                self._close_prompt(conv, texts, self.numbers.country(code).name)
                self._set_country(conv, state, self.numbers.country(code))
                return
        if state.kind == "rating":
            rating = _rating(event.choice)
            if rating is not None:
                await self._rate(conv, state, rating)
                return
        choice = self._find_choice(state, event.choice)
        if choice is None:
            conv.effects.append(Toast(texts.get("system.moved_on")))
            return
        await self._apply_choice(conv, state, choice)

    async def _rate(self, conv: Conversation, state: State, rating: int) -> None:
        assert state.rate is not None
        self._close_prompt(conv, self._texts(conv), str(rating))
        conv.ctx[state.rate] = rating
        await self._trigger(conv, "rated")

    async def _apply_choice(self, conv: Conversation, state: State, choice: Choice) -> None:
        texts = self._texts(conv)
        self._close_prompt(conv, texts, texts.get(choice.label))
        if choice.id == STOP and choice.label == "btn.stop":  # an interrupt, not a flow transition
            await self._goto(conv, self.flow.interrupts.stop)
            return
        self._apply_set(conv, choice)
        if choice.page is not None:
            for key in self.flow.pages[choice.page]:
                conv.effects.append(Send(texts.get(key)))
            self._prompt_again(conv, state)
        elif choice.call is not None:
            await self._call(conv, choice.call)
        elif choice.to == RETURN:
            await self._return(conv)
        else:
            await self._trigger(conv, choice.id)

    @staticmethod
    def _close_prompt(conv: Conversation, texts: Texts, label: str) -> None:
        if conv.prompt is not None:
            conv.effects.append(ClosePrompt(conv.prompt, texts.get("answer.chosen", label=label)))
            conv.prompt = None

    def _apply_set(self, conv: Conversation, choice: Choice) -> None:
        for key, value in choice.set.items():
            if key == "unlock":
                assert conv.profile is not None
                conv.profile.locked_sign = None
            elif key == "session":
                conv.ctx["started_at"] = self.clock()
            else:
                conv.ctx[key] = value

    async def _on_text(self, conv: Conversation, text: str) -> None:
        detection = self.detector.detect(text)
        state = self.flow.states[conv.state]
        interrupts = self.flow.interrupts
        if detection.outcome is not Outcome.NONE and detection.sign:
            conv.ctx["sign"] = detection.sign
        match detection.outcome:
            case Outcome.EMERGENCY:
                await self._goto(conv, interrupts.emergency)
            case Outcome.UNSURE if URGENT_TAG in state.tags:
                await self._goto(conv, interrupts.emergency)
            case Outcome.UNSURE:
                await self._call(conv, interrupts.unsure)
            case Outcome.STOP_NOW if URGENT_TAG not in state.tags:
                await self._goto(conv, interrupts.stop_now)
            case Outcome.CLINICIAN if state.kind != "end":
                await self._call(conv, interrupts.clinician)
            case Outcome.NONE:
                await self._on_plain_text(conv, state, text)
            case _:
                # Already at an end (urgent care included): repeat where the user stands.
                await self._goto(conv, conv.state)

    async def _on_plain_text(self, conv: Conversation, state: State, text: str) -> None:
        texts = self._texts(conv)
        if conv.ctx.get("asking") == "country" and self.numbers is not None:
            country = self.numbers.match(text)
            if country is None:
                conv.effects.append(Send(texts.get("country.unknown")))
            else:
                self._set_country(conv, state, country)
            return
        if state.kind == "rating" and _rating(f"r{text.strip()}") is not None:
            await self._rate(conv, state, int(text.strip()))
            return
        if len(text) <= LONG_TEXT:
            typed = text.strip().casefold()
            for choice in self._visible_choices(state):
                if texts.get(choice.label).casefold() == typed:
                    await self._apply_choice(conv, state, choice)
                    return
        if len(text) > LONG_TEXT:
            key = "system.too_long"
        elif conv.ctx.get("fresh"):
            key = "system.no_session"
        elif state.kind == "end":
            key = "system.session_over"
        else:
            key = "system.use_buttons"
        conv.effects.append(Send(texts.get(key)))

    async def _on_timer(self, conv: Conversation, event: TimerFired) -> None:
        state = self.flow.states[conv.state]
        if state.kind != "hold" or event.epoch != conv.ctx.get("epoch"):
            return  # a timer of a hold the user has already left
        if event.kind == "halfway":
            conv.timers = [t for t in conv.timers if t.kind != "halfway"]
            if state.halfway:
                conv.effects.append(Send(self._texts(conv).get(state.halfway)))
        elif event.late_by > LATE_RESUME_AFTER:
            await self._call(conv, self.flow.interrupts.late_resume)
        else:
            await self._trigger(conv, "release")

    async def _on_command(self, conv: Conversation, event: Command) -> None:
        texts = self._texts(conv)
        state = self.flow.states[conv.state]
        match event.name:
            case "start":
                await self._start(conv)
            case "stop" if state.kind != "end" and not conv.ctx.get("fresh"):
                await self._goto(conv, self.flow.interrupts.stop)
            case "stop":
                conv.effects.append(Send(texts.get("system.no_session")))
            case "redflags":
                await self._call(conv, self.flow.interrupts.warning)
            case "help":
                conv.effects.append(Send(texts.get("help.text")))
            case "country" if self.numbers is not None:
                self._ask_country(conv)
            case _:
                conv.effects.append(Send(texts.get("system.unknown_command")))

    async def _start(self, conv: Conversation) -> None:
        assert conv.profile is not None
        conv.profile.active = True
        keep: dict[str, Any] = {k: conv.ctx[k] for k in ("seq", "epoch") if k in conv.ctx}
        if conv.profile.locked_sign:
            keep["sign"] = conv.profile.locked_sign
            conv.ctx = keep
            await self._goto(conv, self.flow.interrupts.locked)
        else:
            conv.ctx = keep
            await self._goto(conv, self.flow.start)

    async def _call(self, conv: Conversation, target: str) -> None:
        """Enter a sub-flow, remembering where to come back to (unless already inside one)."""
        if conv.state not in self._subflow:
            back = resume_point(self.flow, conv.state)
            if back is None or conv.ctx.get("fresh"):
                conv.ctx.pop("ret", None)
            else:
                conv.ctx["ret"] = back
        await self._goto(conv, target)

    async def _return(self, conv: Conversation) -> None:
        back = conv.ctx.pop("ret", None)
        await self._goto(conv, back or self.flow.interrupts.idle)

    # ------------------------------------------------------------ state callbacks
    def _leaving(self, event_data: Any) -> None:
        conv: Conversation = event_data.model
        if conv.timers:
            conv.effects.append(CancelTimers())
            conv.timers = []

    def _entered(self, event_data: Any) -> None:
        conv: Conversation = event_data.model
        state = self.flow.states[conv.state]
        texts = self._texts(conv)
        conv.ctx.pop("fresh", None)
        conv.ctx.pop("asking", None)
        params = self._params(conv, texts)
        if state.kind == "end":
            conv.ctx.pop("ret", None)
            self._log_session(conv, state)
            if URGENT_TAG in state.tags and conv.profile is not None:
                conv.profile.locked_sign = conv.ctx.get("sign") or "unknown"
        if state.kind == "hold":
            params["seconds"] = self._schedule_hold(conv, state)
        messages = [texts.get(key, **params) for key in state.say]
        if state.ask:
            messages.append(texts.get(state.ask, **params))
        self._emit(conv, messages, self._buttons(state, texts))
        if URGENT_TAG in state.tags and conv.profile and not conv.profile.country:
            self._ask_country(conv)  # after the urgent message, never before it

    # ------------------------------------------------------------ country
    def _ask_country(self, conv: Conversation) -> None:
        if self.numbers is None:
            return
        texts = self._texts(conv)
        buttons = tuple(Button(COUNTRY_PREFIX + c.code, c.name) for c in self.numbers.common())
        self._emit(conv, [texts.get("country.ask")], buttons)
        conv.ctx["asking"] = "country"

    def _set_country(self, conv: Conversation, state: State, country: Country) -> None:
        assert conv.profile is not None
        conv.profile.country = country.code
        conv.ctx.pop("asking", None)
        texts = self._texts(conv)
        conv.effects.append(Send(texts.get("country.saved", country=country.name,
                                           list=", ".join(country.numbers))))
        if state.kind != "end":
            self._prompt_again(conv, state)

    def _log_session(self, conv: Conversation, state: State) -> None:
        started = conv.ctx.pop("started_at", None)
        before, after = conv.ctx.pop("pain_before", None), conv.ctx.pop("pain_after", None)
        if started is not None and state.outcome is not None:
            conv.effects.append(LogSession(started, self.clock(), state.outcome, before, after))

    def _schedule_hold(self, conv: Conversation, state: State) -> int:
        assert state.exercise is not None
        exercise = self.flow.exercises[state.exercise]
        seconds = exercise.holds.get(conv.ctx.get("hold", ""), exercise.holds[self.flow.default_hold])
        epoch = int(conv.ctx.get("epoch", 0)) + 1
        conv.ctx["epoch"] = epoch
        now = self.clock()
        duration = seconds * self.time_scale
        timers = [Timer("release", now + duration, epoch)]
        if state.halfway:
            timers.insert(0, Timer("halfway", now + duration / 2, epoch))
        conv.timers = timers
        conv.effects.extend(Schedule(t) for t in timers)
        return seconds

    # ------------------------------------------------------------ rendering
    def _texts(self, conv: Conversation) -> Texts:
        return self.bundle.texts(conv.profile.language if conv.profile else None)

    def _params(self, conv: Conversation, texts: Texts) -> dict[str, object]:
        sign = conv.ctx.get("sign") or "unknown"
        condition = conv.ctx.get("condition")
        country = conv.profile.country if conv.profile else None
        return {
            "sign": texts.get(f"sign.{sign}") if f"sign.{sign}" in texts else texts.get("sign.unknown"),
            "condition": texts.get(f"condition.{condition}") if condition else "",
            "numbers": numbers_line(self.numbers, texts, country) if self.numbers else "",
        }

    def _visible_choices(self, state: State) -> list[Choice]:
        choices = list(state.choices)
        if self.bundle.safety.exercise_tag in state.tags:
            choices.append(Choice(id=STOP, label="btn.stop", to=self.flow.interrupts.stop))
            choices.append(Choice(id=WARNING, label="btn.warning", call=self.flow.interrupts.warning))
        return choices

    def _find_choice(self, state: State, choice_id: str) -> Choice | None:
        for choice in self._visible_choices(state):
            if choice.id == choice_id:
                return choice
        return None

    def _buttons(self, state: State, texts: Texts) -> tuple[Button, ...]:
        if state.kind == "rating":
            return tuple(Button(f"r{n}", str(n)) for n in range(RATING_MIN, RATING_MAX + 1))
        return tuple(Button(c.id, texts.get(c.label)) for c in self._visible_choices(state))

    def _emit(self, conv: Conversation, paragraphs: list[str], buttons: tuple[Button, ...]) -> None:
        """One state is one message (paragraphs, then the question with its buttons).

        One message per step keeps the chat readable on a phone, notifies once, and spends
        Telegram's per-bot send budget sparingly. It becomes the user's new prompt.
        """
        seq = int(conv.ctx.get("seq", 0)) + 1
        conv.ctx["seq"] = seq
        if paragraphs:
            conv.effects.append(Send("\n\n".join(paragraphs), buttons, seq if buttons else 0))

    def _prompt_again(self, conv: Conversation, state: State) -> None:
        texts = self._texts(conv)
        key = state.ask or state.say[-1]
        self._emit(conv, [texts.get(key, **self._params(conv, texts))],
                   self._buttons(state, texts))
