"""The conversation engine: events in, effects out, one shared state machine per flow.

The machine is built once from the YAML flow with ``transitions`` (``model=None``,
``auto_transitions=False``, ``queued="model"``). Each active user is a small
:class:`~back_care_guide.store.records.Conversation` registered as a model; idle users are removed
from the machine and live only in the store (see :mod:`back_care_guide.engine.runtime`).

Safety rules the code relies on:
- every input with a safety meaning (typed text, captions and edits, screening buttons,
  the pain scale) is decided by :class:`~back_care_guide.safety.triage.Triage` before the flow sees
  it, and a reported sign goes to its tier's outcome state (``flows/triage.yaml``);
- an outcome that sticks is a hold on the profile; while it holds, no transition can
  enter an exercise state (:meth:`Engine._trigger` redirects to the gate), whatever path
  the flow data might offer;
- leaving any state cancels the user's timers *before* any message is emitted, so an
  urgent-care or stop message is never followed by a message of the interrupted hold;
- timer events carry the hold's epoch and are ignored unless they match the current one.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import date, datetime
from typing import Any

from transitions.core import listify
from transitions.extensions.asyncio import AsyncMachine

from back_care_guide.engine.events import (
    Button,
    CancelTimers,
    Choose,
    Command,
    Effect,
    Event,
    LogSafety,
    LogSession,
    Media,
    Priority,
    Prompt,
    Resume,
    Schedule,
    Send,
    Start,
    Text,
    Timer,
    TimerFired,
    Toast,
)
from back_care_guide.engine.replies import Option, read_choice, read_rating
from back_care_guide.flow.choices import choices_of, question_of
from back_care_guide.flow.graph import resume_point, subflow_states
from back_care_guide.flow.loader import FlowBundle
from back_care_guide.flow.model import REPORTED, RETURN, Choice, State
from back_care_guide.flow.texts import Texts
from back_care_guide.safety import hold as holds
from back_care_guide.safety.emergency import Country, EmergencyNumbers
from back_care_guide.safety.emergency_line import numbers_line
from back_care_guide.safety.triage import NOTHING, Action, Assessment, Triage
from back_care_guide.safety.triage_rules import LOCKING, RED_FLAG_TIERS, Tier
from back_care_guide.store.records import Conversation, Profile, SafetyEvent, SafetyHold

LATE_RESUME_AFTER = 600.0  # a hold that ended longer ago than this asks before resuming
LONG_TEXT = 1000  # characters; longer messages are not matched against button labels
ASKED_KEPT = 8  # recent prompts whose buttons are still read after the flow moved on
STOP, WARNING = "stop", "warning"  # the interrupt buttons shown during exercises
MISTAP = "mistap"  # "I tapped it by mistake", offered right after a screening outcome
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
        triage: Triage,
        *,
        numbers: EmergencyNumbers | None = None,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bundle = bundle
        self.flow = bundle.flow
        self.rules = bundle.triage
        self.triage = triage
        self.numbers = numbers
        self.time_scale = time_scale
        self.clock = clock
        self._subflow = subflow_states(self.flow)
        self._exercises = frozenset(
            name for name, state in self.flow.states.items()
            if bundle.safety.exercise_tag in state.tags)
        self._red_flag_outcomes = frozenset(
            self.rules.tiers.rule(tier).outcome for tier in RED_FLAG_TIERS)
        i = self.flow.interrupts
        # Messages said in these states go out before anything queued (Priority.SAFETY).
        self._safety_states = frozenset(
            {self.rules.tiers.rule(tier).outcome for tier in LOCKING}
            | {i.stop, i.confirm, i.warning, i.pause, i.locked, i.wait, i.rest})
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
            for choice in self._choices(state):
                if choice.to and choice.to != RETURN:
                    result.append({"trigger": choice.id, "source": name, "dest": choice.to})
            if state.next and state.kind in ("hold", "rating"):
                trigger = "rated" if state.kind == "rating" else "release"
                result.append({"trigger": trigger, "source": name, "dest": state.next})
        # Interrupts, calls, returns and triage outcomes can land in any state from any state.
        for name in self.flow.states:
            result.append({"trigger": f"goto_{name}", "source": "*", "dest": name})
        return result

    def attach(self, conversation: Conversation) -> None:
        """Register an active user's model with the machine, in its stored state."""
        self.machine.add_model(conversation, initial=conversation.state)

    def detach(self, conversation: Conversation) -> None:
        self.machine.remove_model(conversation)

    def new_conversation(self, user_id: int) -> Conversation:
        """A new conversation. Prompt numbers start at the clock in milliseconds, so they never
        restart for a person: a button of a conversation they erased can't answer a new one."""
        return Conversation(user_id, self.flow.start,
                            {"seq": int(self.clock() * 1000), "epoch": 0, "fresh": True})

    async def _trigger(self, conv: Conversation, trigger: str) -> None:
        """Fire a transition, unless it would enter an exercise while a safety hold is on."""
        transitions = self.machine.events[trigger].transitions.get(conv.state, [])
        if any(t.dest in self._exercises for t in transitions) and self._held(conv):
            await self._gate(conv)
            return
        await self.machine.events[trigger].trigger(conv)

    async def _goto(self, conv: Conversation, state: str) -> None:
        await self._trigger(conv, f"goto_{state}")

    # ------------------------------------------------------------ entry point
    def assess(self, event: Event, profile: Profile) -> Assessment:
        """The safety meaning of an event's text (the one triage call per event)."""
        if isinstance(event, Text):
            return self.triage.text(event.text, profile.language)
        if isinstance(event, Media) and event.caption:
            return self.triage.text(event.caption, profile.language)
        return NOTHING

    def group_advice(self, text: str, language: str | None) -> Send | None:
        """The advice for an alarming message addressed to the bot in a group (nothing stored)."""
        found = self.triage.text(text, language)
        if not found.alarming:
            return None
        texts = self.bundle.texts(language)
        sign = self.rules.signs.get(found.sign or "")
        name = texts.get(sign.name) if sign is not None else texts.get("sign.unknown")
        key = sign.message if sign is not None else self.rules.tiers.emergency.message
        numbers = numbers_line(self.numbers, texts, None) if self.numbers else ""
        advice = texts.get(key, sign=name, sign_cap=name[:1].upper() + name[1:], numbers=numbers)
        return Send(f"{advice}\n\n{texts.get('group.advice')}", priority=Priority.SAFETY)

    async def handle(self, conv: Conversation, profile: Profile, event: Event,
                     assessment: Assessment | None = None) -> list[Effect]:
        """Apply one event to one user; return what must happen, in order."""
        conv.effects = []
        conv.profile = profile
        conv.answered = None
        prompt_before = conv.prompt
        if isinstance(event, Text | Media | Command) and conv.prompt is not None:
            conv.prompt.latest = False  # the person's own message now sits below it
        try:
            match event:
                case Choose():
                    await self._on_choose(conv, event)
                case Text():
                    found = assessment if assessment is not None else self.assess(event, profile)
                    await self._on_text(conv, event, found)
                case Media():
                    found = assessment if assessment is not None else self.assess(event, profile)
                    await self._on_media(conv, event, found)
                case TimerFired():
                    await self._on_timer(conv, event)
                    if event.kind == "release":  # the end of a hold: to notice, and on time,
                        # or the person holds the stretch past the article's range
                        conv.effects = [replace(e, wake=True, priority=Priority.SAFETY)
                                        if isinstance(e, Send) else e for e in conv.effects]
                case Resume():
                    self._set_language(profile, event.language, chosen=event.chosen)
                    await self._resume(conv)
                case Start():
                    self._set_language(profile, event.language)
                    await self._start(conv)
                case Command():
                    self._set_language(profile, event.language)
                    await self._on_command(conv, event)
            # A prompt the flow has moved past is no longer the one to edit. Its buttons
            # stay (no call spent on tidying): a later press on them is still honoured when
            # it means Stop, the warning sign or a sign, and otherwise answered "moved on".
            if prompt_before is not None and conv.prompt is prompt_before and self._moved(conv):
                conv.prompt = None
            return conv.effects
        finally:
            conv.effects = []
            conv.profile = None
            conv.answered = None

    @staticmethod
    def _moved(conv: Conversation) -> bool:
        return conv.prompt is not None and conv.prompt.seq != conv.ctx.get("seq")

    def _set_language(self, profile: Profile, language: str | None, *, chosen: bool = False) -> None:
        """The person's language from Telegram's ``language_code`` ("es-MX" is es) or the
        terminal's ``LANG`` ("de_AT.UTF-8" is de), once, if the bot speaks it; otherwise none
        is kept and they get English. A language ``chosen`` replaces the one they had."""
        code = self.bundle.language_for(language)
        if code is not None and (chosen or not profile.language):
            profile.language = code

    # ------------------------------------------------------------ buttons
    async def _on_choose(self, conv: Conversation, event: Choose) -> None:
        texts = self._texts(conv)
        state = self.flow.states[conv.state]
        mistap = conv.ctx.get("mistap")
        if event.choice == MISTAP and isinstance(mistap, dict) and mistap.get("seq") == event.seq:
            await self._mistap(conv, mistap)
            return
        if event.seq != conv.ctx.get("seq"):  # a button of an earlier or foreign message
            await self._on_earlier_button(conv, event)
            return
        if (conv.ctx.get("asking") == "country" and event.choice.startswith(COUNTRY_PREFIX)
                and self.numbers is not None):
            code = event.choice.removeprefix(COUNTRY_PREFIX)
            if code in self.numbers:
                self._close_prompt(conv)
                self._set_country(conv, state, self.numbers.country(code))
                return
        if state.kind == "rating":
            rating = _rating(event.choice)
            if rating is not None:
                await self._rate(conv, state, rating, tapped=True)
                return
        choice = self._find_choice(state, event.choice)
        if choice is None:
            conv.effects.append(Toast(texts.get("system.moved_on")))
            return
        await self._apply_choice(conv, state, choice)

    async def _on_earlier_button(self, conv: Conversation, event: Choose) -> None:
        """A press on a message the conversation has moved past.

        Its buttons are left in place (removing them would cost a call each), so a press
        that means Stop, a warning sign or a reported sign still counts: safety never
        answers "moved on". Anything else does.
        """
        asked = conv.ctx.get("asked", {})
        name = asked.get(str(event.seq)) if isinstance(asked, dict) else None
        then = self.flow.states.get(name) if isinstance(name, str) else None
        choice = self._find_choice(then, event.choice) if then is not None else None
        if choice is not None and choice.report is not None and choice.report != REPORTED:
            await self._report(conv, choice.report, "button")
        elif choice is not None and choice.id == WARNING:
            await self._call(conv, self.flow.interrupts.warning)
        elif choice is not None and choice.id == STOP and self.flow.states[conv.state].kind != "end":
            await self._goto(conv, self.flow.interrupts.stop)
        else:
            conv.effects.append(Toast(self._texts(conv).get("system.moved_on")))

    async def _rate(self, conv: Conversation, state: State, rating: int, *, tapped: bool) -> None:
        assert state.rate is not None
        self._close_prompt(conv)
        conv.ctx[state.rate] = rating
        found = self.triage.rating(rating)
        if found.action is Action.REPORT and found.sign is not None:
            # A tap may have hit the wrong number: offer to correct it (a typed one didn't).
            await self._report(conv, found.sign, "rating", back=conv.state if tapped else None)
        else:
            await self._trigger(conv, "rated")

    async def _apply_choice(self, conv: Conversation, state: State, choice: Choice) -> None:
        texts = self._texts(conv)
        self._close_prompt(conv)
        if choice.id == STOP and choice.label == "btn.stop":  # an interrupt, not a flow transition
            await self._goto(conv, self.flow.interrupts.stop)
            return
        if "clear" in choice.set and not self._clearable(conv):
            await self._gate(conv)  # a clearance can't be accepted yet (or nothing to clear)
            return
        self._apply_set(conv, choice)
        if choice.page is not None:
            for key in self.flow.pages[choice.page]:
                conv.effects.append(Send(texts.get(key)))
            self._prompt_again(conv, state)
        elif choice.call is not None:
            await self._call(conv, choice.call)
        elif choice.report is not None:
            sign = conv.ctx.get("sign") if choice.report == REPORTED else choice.report
            back = conv.state if state.kind == "screen" else None
            await self._report(conv, str(sign or ""), "button", back=back)
        elif choice.to == RETURN:
            await self._return(conv)
        else:
            await self._trigger(conv, choice.id)

    @staticmethod
    def _close_prompt(conv: Conversation) -> None:
        """The current question is answered: the next message may be edited into it."""
        if conv.prompt is not None:
            conv.answered = conv.prompt if conv.prompt.latest else None
            conv.prompt = None

    def _apply_set(self, conv: Conversation, choice: Choice) -> None:
        profile = conv.profile
        assert profile is not None
        for key, value in choice.set.items():
            if key == "session":
                conv.ctx["started_at"] = self.clock()
            elif key == "clear":
                self._lift(conv, "cleared")
            elif key == "withdraw":
                self._lift(conv, "corrected")
            else:
                conv.ctx[key] = value

    # ------------------------------------------------------------ safety outcomes
    async def _report(self, conv: Conversation, sign: str, via: str, *,
                      back: str | None = None) -> None:
        """The one way a sign takes effect: its tier's outcome, held in the profile."""
        profile = conv.profile
        assert profile is not None
        conv.ctx.pop("then", None)
        info = self.rules.signs.get(sign)
        if info is None:  # defensive: an unknown sign is a warning sign of unknown kind
            await self._call(conv, self.flow.interrupts.warning)
            return
        if info.lasting and sign in profile.cleared:
            await self._noted_as_cleared(conv, sign)
            return
        now, zone = self.clock(), holds.zone_of(profile)
        hold = profile.hold
        if holds.active(hold, self.rules, now, zone) and not holds.more_severe(info.level, hold):
            assert hold is not None
            sign = hold.sign  # a milder finding does not replace the outcome in force
        else:
            if back is not None and not conv.ctx.get("mistap_used"):
                conv.ctx["mistap_offer"] = back
                # A correction restores what held before this tap, not nothing.
                replaced = hold if holds.active(hold, self.rules, now, zone) else None
                conv.ctx["replaced_hold"] = asdict(replaced) if replaced is not None else None
            profile.hold = holds.new_hold(self.rules, sign, now, zone)
            conv.effects.append(LogSafety(SafetyEvent(now, "reported", info.tier, sign, via)))
        conv.ctx["sign"] = sign
        await self._goto(conv, self.rules.tiers.rule(self.rules.tier_of(sign)).outcome)

    async def _noted_as_cleared(self, conv: Conversation, sign: str) -> None:
        """A lasting condition a clinician has cleared: noted, and on as if it were a No (a
        screening list is asked again, since another of its signs may apply)."""
        texts = self._texts(conv)
        name = texts.get(self.rules.signs[sign].name)
        conv.effects.append(Send(texts.get("triage.cleared_before", sign=name)))
        state = self.flow.states[conv.state]
        answered_no = self._find_choice(state, "no") if state.kind != "screen" else None
        if answered_no is not None:
            await self._apply_choice(conv, state, answered_no)
        elif state.kind != "end":
            self._prompt_again(conv, state)

    def _lift(self, conv: Conversation, kind: str) -> None:
        """End the hold in force: a clearance confirmed at the gate, or a mis-tap corrected."""
        profile = conv.profile
        assert profile is not None
        hold = profile.hold
        if hold is None:
            return
        now = self.clock()
        restored = conv.ctx.pop("prior_hold", None) if kind == "corrected" else None
        profile.hold = SafetyHold(**restored) if restored else None
        if kind == "cleared" and self.rules.signs[hold.sign].lasting:
            profile.cleared[hold.sign] = now
        via = "check" if kind == "cleared" else "button"
        conv.effects.append(LogSafety(SafetyEvent(now, kind, hold.tier, hold.sign, via)))

    async def _mistap(self, conv: Conversation, mistap: dict[str, Any]) -> None:
        """'I tapped it by mistake': ask that one question once more (the advice stays sent)."""
        conv.ctx.pop("mistap", None)
        conv.ctx["mistap_used"] = True
        conv.ctx["prior_hold"] = mistap.get("prior")
        conv.ctx["sign"] = mistap["sign"]
        conv.ctx["ret"] = mistap["back"]
        await self._goto(conv, self.flow.interrupts.mistap)

    def _held(self, conv: Conversation) -> bool:
        profile = conv.profile
        return profile is not None and holds.active(
            profile.hold, self.rules, self.clock(), holds.zone_of(profile))

    def _clearable(self, conv: Conversation) -> bool:
        profile = conv.profile
        if profile is None or profile.hold is None:
            return False
        earliest = holds.clearable_from(profile.hold, self.rules, holds.zone_of(profile))
        return earliest is not None and self.clock() >= earliest

    async def _gate(self, conv: Conversation) -> None:
        """Where /start (or any way into an exercise) leads while an outcome holds."""
        profile = conv.profile
        assert profile is not None and profile.hold is not None
        conv.ctx["sign"] = profile.hold.sign
        interrupts = self.flow.interrupts
        lock = self.rules.tiers.rule(Tier(profile.hold.tier)).lock
        if lock.until == "day":
            await self._goto(conv, interrupts.rest)
        elif self._clearable(conv):
            await self._goto(conv, interrupts.locked)
        else:
            await self._goto(conv, interrupts.wait)

    # ------------------------------------------------------------ text
    async def _on_text(self, conv: Conversation, event: Text, found: Assessment) -> None:
        interrupts = self.flow.interrupts
        match found.action:
            case Action.REPORT if found.sign is not None:
                await self._report(conv, found.sign, "text")
            case Action.CONFIRM if conv.state in self._red_flag_outcomes and found.sign:
                await self._report(conv, found.sign, "text")  # already in urgent care: no question
            case Action.CONFIRM | Action.CHECK | Action.INFO:
                conv.ctx["sign"] = found.sign
                if found.then is not None and found.then.sign is not None:
                    conv.ctx["then"] = found.then.sign
                target = {Action.CONFIRM: interrupts.confirm, Action.CHECK: interrupts.warning,
                          Action.INFO: interrupts.info}[found.action]
                await self._call(conv, target)
            case _ if event.kind != "message":
                conv.effects.append(Send(self._texts(conv).get("system.not_text")))
            case _:
                await self._on_plain_text(conv, self.flow.states[conv.state], event.text)

    async def _on_media(self, conv: Conversation, event: Media, found: Assessment) -> None:
        """Media can't be read: a hold pauses and asks whether they are OK (a person on the
        floor may say "my leg went numb" out loud); elsewhere, "text only"."""
        if found.action is not Action.NONE:
            await self._on_text(conv, Text(event.user_id, event.caption, "caption"), found)
        elif self.flow.states[conv.state].kind == "hold":
            await self._call(conv, self.flow.interrupts.pause)
        else:
            conv.effects.append(Send(self._texts(conv).get("system.not_text")))

    async def _on_plain_text(self, conv: Conversation, state: State, text: str) -> None:
        texts = self._texts(conv)
        if conv.ctx.get("asking") == "country" and self.numbers is not None:
            country = self.numbers.match(text, texts.language)
            if country is None:
                conv.effects.append(Send(texts.get("country.unknown")))
            else:
                self._set_country(conv, state, country)
            return
        if len(text) > LONG_TEXT:
            conv.effects.append(Send(texts.get("system.too_long")))
            return
        if state.kind == "rating":
            rating = read_rating(text, texts, RATING_MIN, RATING_MAX)
            if rating is not None:
                await self._rate(conv, state, rating, tapped=False)
                return
        choices = self._visible_choices(state)
        options = [Option(c.id, texts.get(c.label), keywords=c.report is None) for c in choices]
        picked = read_choice(text, options, texts)
        choice = next((c for c in choices if c.id == picked), None)
        if choice is not None:
            await self._apply_choice(conv, state, choice)
        elif conv.ctx.get("fresh"):
            conv.effects.append(Send(texts.get("system.no_session")))
        elif state.kind == "end":
            conv.effects.append(Send(texts.get("system.session_over")))
        elif state.kind != "hold" and question_of(self.rules, state) is not None:
            self._prompt_again(conv, state)  # the question again, with its buttons
        else:
            conv.effects.append(Send(texts.get("system.use_buttons")))

    async def _on_timer(self, conv: Conversation, event: TimerFired) -> None:
        state = self.flow.states[conv.state]
        if state.kind != "hold" or event.epoch != conv.ctx.get("epoch"):
            return  # a timer of a hold the user has already left
        if not any(t.kind == event.kind and t.epoch == event.epoch for t in conv.timers):
            return  # fired already (by another replica, or once more after a restart)
        if event.kind == "halfway":
            conv.timers = [t for t in conv.timers if t.kind != "halfway"]
            if state.halfway:
                self._halfway(conv, state)
        elif event.late_by > LATE_RESUME_AFTER:
            await self._call(conv, self.flow.interrupts.late_resume)
        else:
            await self._trigger(conv, "release")

    def _halfway(self, conv: Conversation, state: State) -> None:
        """The halfway note, silent; added to the hold's own message when that is still the
        chat's latest (an edit never buzzes), else a message of its own."""
        assert state.halfway is not None
        texts = self._texts(conv)
        note = texts.get(state.halfway)
        hold = conv.prompt
        if hold is not None and hold.latest and hold.seq == conv.ctx.get("seq") and not conv.effects:
            conv.effects.append(Send(f"{hold.text}\n\n{note}", self._buttons(state, texts), hold.seq,
                                     silent=True, replaces=hold))
        else:
            conv.effects.append(Send(note, silent=True))

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
        profile = conv.profile
        assert profile is not None
        profile.active = True
        conv.ctx = {k: conv.ctx[k] for k in ("seq", "epoch") if k in conv.ctx}
        if profile.hold is not None and not self._held(conv):
            profile.hold = None  # a stop-today outcome from an earlier day has ended
        if profile.hold is not None:
            await self._gate(conv)
        else:
            await self._goto(conv, self.flow.start)

    async def _resume(self, conv: Conversation) -> None:
        """Where the person was, said in one line, with the question (or the hold) again."""
        state = self.flow.states[conv.state]
        if conv.ctx.get("fresh") or state.kind == "end":
            await self._start(conv)
            return
        texts = self._texts(conv)
        if state.kind == "hold":  # its timers were re-armed from the store
            self._emit(conv, [texts.get("resume.where"), texts.get("resume.holding")],
                       self._buttons(state, texts))
            return
        conv.effects.append(Send(texts.get("resume.where")))
        self._prompt_again(conv, state)

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
        then = conv.ctx.pop("then", None)
        if then is not None:  # a confirmation answered No: what else they said still counts
            await self._report(conv, str(then), "text")
            return
        await self._goto(conv, back or self.flow.interrupts.idle)

    # ------------------------------------------------------------ state callbacks
    def _leaving(self, event_data: Any) -> None:
        conv: Conversation = event_data.model
        conv.ctx.pop("mistap", None)
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
        if state.kind == "hold":
            params["seconds"] = self._schedule_hold(conv, state)
        messages = [self._say(conv, texts, key, params) for key in state.say]
        question = question_of(self.rules, state)
        if question:
            messages.append(self._say(conv, texts, question, params))
        self._emit(conv, messages, self._buttons(state, texts))
        offer = conv.ctx.pop("mistap_offer", None)
        if offer is not None and state.kind == "end":
            seq = self._emit(conv, [texts.get("triage.mistap_ask")],
                             (Button(MISTAP, texts.get("btn.mistap")),))
            conv.ctx["mistap"] = {"seq": seq, "back": offer, "sign": conv.ctx.get("sign"),
                                  "prior": conv.ctx.pop("replaced_hold", None)}
        if URGENT_TAG in state.tags and conv.profile and not conv.profile.country:
            self._ask_country(conv)  # after the urgent message, never before it

    def _say(self, conv: Conversation, texts: Texts, key: str, params: dict[str, object]) -> str:
        """A text of the state; ``$message``, ``$reminder`` and ``$question`` come from triage."""
        if key.startswith("$"):
            key = self._triage_key(conv, key)
        return texts.get(key, **params)

    def _triage_key(self, conv: Conversation, key: str) -> str:
        sign = self.rules.signs.get(str(conv.ctx.get("sign")))
        hold = conv.profile.hold if conv.profile is not None else None
        if key == "$reminder":
            tier = Tier(hold.tier) if hold is not None else (sign.level if sign else Tier.EMERGENCY)
            return self.rules.tiers.rule(tier).reminder
        if sign is None:  # defensive: no sign known, say the most cautious thing
            fallback = self.rules.tiers.emergency
            return fallback.message if key == "$message" else "sign.unknown"
        return sign.message if key == "$message" else sign.question

    # ------------------------------------------------------------ country
    def _ask_country(self, conv: Conversation) -> None:
        if self.numbers is None:
            return
        texts = self._texts(conv)
        buttons = tuple(Button(COUNTRY_PREFIX + c.code, texts.country(c.code, c.name))
                        for c in self.numbers.common())
        self._emit(conv, [texts.get("country.ask")], buttons)
        conv.ctx["asking"] = "country"

    def _set_country(self, conv: Conversation, state: State, country: Country) -> None:
        assert conv.profile is not None
        conv.profile.country = country.code
        conv.ctx.pop("asking", None)
        texts = self._texts(conv)
        name = texts.country(country.code, country.name)
        conv.effects.append(Send(texts.get("country.saved", country=name, list=", ".join(country.numbers))))
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
        sign = self.rules.signs.get(str(conv.ctx.get("sign")))
        name = texts.get(sign.name) if sign is not None else texts.get("sign.unknown")
        profile = conv.profile
        params: dict[str, object] = {
            "sign": name,
            "sign_cap": name[:1].upper() + name[1:],
            "numbers": "",
        }
        if profile is not None:
            if self.numbers is not None:
                params["numbers"] = numbers_line(self.numbers, texts, profile.country)
            if profile.hold is not None:
                params.update(self._hold_params(profile, texts))
        return params

    def _hold_params(self, profile: Profile, texts: Texts) -> dict[str, object]:
        """When the outcome in force was reported, and from when it can be cleared."""
        assert profile.hold is not None
        zone = holds.zone_of(profile)
        today = holds.local_day(self.clock(), zone)
        reported = date.fromisoformat(profile.hold.day)
        if reported == today:
            said = texts.get("when.reported_today")
        elif (today - reported).days == 1:
            said = texts.get("when.reported_yesterday")
        else:
            said = texts.get("when.reported_on", date=texts.day(reported))
        params: dict[str, object] = {"reported": said}
        earliest = holds.clearable_from(profile.hold, self.rules, zone)
        if earliest is not None:
            moment = datetime.fromtimestamp(earliest, zone)
            days = (moment.date() - today).days
            key = "when.today" if days <= 0 else "when.tomorrow" if days == 1 else "when.later"
            params["when"] = texts.get(key, time=moment.strftime("%H:%M"),
                                       date=texts.day(moment.date()))
        return params

    def _choices(self, state: State) -> tuple[Choice, ...]:
        return choices_of(self.rules, state)

    def _visible_choices(self, state: State) -> list[Choice]:
        choices = list(self._choices(state))
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

    def _emit(self, conv: Conversation, paragraphs: list[str], buttons: tuple[Button, ...]) -> int:
        """One state is one message (paragraphs, then the question with its buttons).

        One message per step keeps the chat readable on a phone, notifies once, and spends
        Telegram's per-bot send budget sparingly. It becomes the user's new prompt; the
        prompt number is returned.
        """
        seq = int(conv.ctx.get("seq", 0)) + 1
        conv.ctx["seq"] = seq
        if paragraphs:
            priority = Priority.SAFETY if conv.state in self._safety_states else Priority.REPLY
            state = self.flow.states[conv.state]
            silent = state.kind == "hold"  # the end of a hold notifies, not its start
            conv.effects.append(Send("\n\n".join(paragraphs), buttons, seq if buttons else 0,
                                     priority, silent=silent, picture=state.picture,
                                     replaces=self._replaceable(conv, state, priority)))
            if buttons:
                self._remember_asked(conv, seq)
        return seq

    def _replaceable(self, conv: Conversation, state: State, priority: Priority) -> Prompt | None:
        """The answered question this state's message may be edited into, if any.

        Only right after a tap on the chat's latest message, only as the first message of
        the reply, never for safety messages (they arrive as new messages, and notify), and
        never turning a text into a photo. A hold keeps its position's picture.
        """
        answered = conv.answered
        conv.answered = None
        if (answered is None or not state.in_place or priority is Priority.SAFETY
                or any(isinstance(e, Send) for e in conv.effects)):
            return None
        if state.picture is not None or (answered.picture and state.kind != "hold"):
            return None
        return answered

    @staticmethod
    def _remember_asked(conv: Conversation, seq: int) -> None:
        """Which state asked prompt ``seq``, for the last few prompts: a later press on one
        of their buttons can still be read (see :meth:`_on_earlier_button`)."""
        asked = conv.ctx.get("asked")
        recent = dict(asked) if isinstance(asked, dict) else {}
        recent[str(seq)] = conv.state
        conv.ctx["asked"] = dict(list(recent.items())[-ASKED_KEPT:])

    def notice(self, profile: Profile, key: str) -> Send:
        """A system message outside the flow (the store is down, slow down), said first."""
        texts = self.bundle.texts(profile.language)
        numbers = numbers_line(self.numbers, texts, profile.country) if self.numbers else ""
        return Send(texts.get(key, numbers=numbers), priority=Priority.SAFETY)

    def _prompt_again(self, conv: Conversation, state: State) -> None:
        texts = self._texts(conv)
        key = question_of(self.rules, state) or state.say[-1]
        self._emit(conv, [self._say(conv, texts, key, self._params(conv, texts))],
                   self._buttons(state, texts))


