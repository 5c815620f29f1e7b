"""Runs the engine for many users at once, for any transport.

- One user's events are handled strictly one after another (a per-user lock), different
  users in parallel.
- What an event changes (state, timers, profile, the reminders a feature set, the session
  or safety outcome to keep) is written in ONE transaction *before* any effect is carried
  out, so a killed process resumes every conversation and timer where it was, and never
  finds half of an event written.
- A store that fails never silences the bot: the effects are carried out from memory
  (safety advice first), the whole write is retried in the background, the failure is
  logged once per outage with its kind, and the person is told plainly once that their progress
  can't be saved. A failed read still answers red flags (from a fresh, unsaved state).
- A person typing faster than a few messages a second gets one polite line and the rest
  is dropped, except what triage finds alarming (:mod:`back_care_guide.engine.flood`).
- Timers are ``loop.call_later`` handles that a stop or an emergency cancels at once;
  no hold is ever an ``await sleep`` inside a handler.
- Only recently active users are kept in memory (and registered with the machine);
  the rest live in the store.

With a store that several processes share (PostgreSQL replicas, see
:mod:`back_care_guide.store.coordination`), each event also holds the person across processes
(until its messages are out), reads their state from the store instead of memory, and tells
the other processes about a red flag; a timer that is overdue by :data:`OVERDUE_AFTER`
(its replica died) is fired by whichever replica sees it first, and firing it twice does
nothing the second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, Protocol

from back_care_guide.account import Change, Outcome, Services
from back_care_guide.engine.budget import SendBudget
from back_care_guide.engine.engine import Engine
from back_care_guide.engine.events import (
    CancelTimers,
    Command,
    Effect,
    EraseUser,
    Event,
    LogSafety,
    LogSession,
    Prompt,
    Schedule,
    Send,
    SendDocument,
    SendPhoto,
    ShowMenu,
    Text,
    Timer,
    TimerFired,
    Toast,
)
from back_care_guide.engine.flood import FloodGuard
from back_care_guide.observability.metrics import Metrics
from back_care_guide.reminders.dispatcher import ReminderDispatcher, SendResult, StoredReminders
from back_care_guide.safety.triage import Assessment
from back_care_guide.store.base import Store
from back_care_guide.store.records import Conversation, Due, Profile
from back_care_guide.store.state import load_user_state, save_user_state

log = logging.getLogger(__name__)
CLOSE_WITHIN = 8.0  # seconds: everything in flight gets this long at shutdown (SIGTERM)
RETRY_SAVES_EVERY = 2.0  # seconds between attempts to write state the store refused
# Shared store only: how long an event waits for another process that holds the same person
# (its messages are going out), and for a red flag, after which it goes on without the hold.
HOLD_WAIT = 30.0
URGENT_HOLD_WAIT = 0.5
OVERDUE_AFTER = 1.0  # seconds past due: a timer nobody fired (its replica died); any takes it
OVERDUE_EVERY = 0.5  # seconds between looks for such timers
OVERDUE_BATCH = 200
FORGET_UPDATES_AFTER = 86_400.0  # Telegram re-delivers an update for a day at most

# Called with the toast texts of an event as soon as the engine has decided (and the state
# is saved), while the messages are still going out: a Telegram button stops spinning then.
Acknowledge = Callable[[list[str]], Awaitable[None]]


def release_memory() -> None:
    """Hand memory freed by evicted users back to the OS (glibc keeps it otherwise)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class RecipientGone(Exception):
    """The user can no longer be reached (Telegram: they blocked the bot)."""


class Transport(Protocol):
    async def send(self, user_id: int, message: Send) -> int | None:
        """Deliver a message; return its id when it carries buttons (else may return None).

        With ``message.replaces``, edit that earlier message into this one where the
        transport can (returning its id), else deliver it as a new message.
        """
        ...

    async def send_photo(self, user_id: int, photo: SendPhoto) -> None:
        """Deliver a picture (the progress chart) with its caption."""
        ...

    async def send_document(self, user_id: int, document: SendDocument) -> None:
        """Deliver a file for the person to keep (their /export) with its caption.

        Its content is the person's health data: never log it.
        """
        ...

    async def forget(self, user_id: int) -> None:
        """The user erased their data: drop anything the transport keeps about them."""
        ...

    async def show_menu(self, user_id: int, language: str) -> None:
        """Show the person's command menu in ``language`` (a transport without one does
        nothing). Best effort: a failure is logged, never raised."""
        ...


class KeyedLocks:
    """One asyncio.Lock per key, dropped again when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: int) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def busy(self, key: int) -> bool:
        return key in self._locks


class StoreHealth:
    """Whether the store works; logs a failure once per outage, and the recovery."""

    def __init__(self) -> None:
        self.failing = False

    def failed(self, action: str, error: BaseException) -> None:
        if not self.failing:
            self.failing = True
            log.error("store %s failed (%s: %s); answering from memory and retrying",
                      action, type(error).__name__, error)

    def ok(self) -> None:
        if self.failing:
            self.failing = False
            log.warning("store works again")


class Runtime:
    def __init__(
        self,
        engine: Engine,
        store: Store,
        transport: Transport,
        *,
        services: Services | None = None,
        clock: Callable[[], float] = time.time,
        idle_evict: float = 300.0,
        reminder_rate: float = 25.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.transport = transport
        self.services = services
        self.reminder_rate = reminder_rate
        self.budget = SendBudget(reminder_rate)  # conversation messages before reminders
        self._reminder_stop = asyncio.Event()
        self._reminder_task: asyncio.Task[None] | None = None
        self.clock = clock
        self.idle_evict = idle_evict
        self._active: dict[int, tuple[Conversation, Profile, float]] = {}
        self._locks = KeyedLocks()
        self._handles: dict[int, list[asyncio.TimerHandle]] = {}
        # Users whose current prompt (which message carries their buttons) is newer in memory
        # than in the store: written with their next save, on eviction or on close. Losing it
        # in a crash only means an old keyboard is not tidied up (a press on it is still
        # checked against the prompt number), so it is not worth a write per message.
        self._unsaved_prompts: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._closing = False  # set once close() has begun: no timer fires, a second close() returns
        self.health = StoreHealth()
        self.flood = FloodGuard()
        self._unsaved: set[int] = set()  # users whose state the store refused: retried
        # Changes besides the state (records, reminders) of events the store refused: written,
        # in order, with the user's state at the next attempt.
        self._pending: dict[int, list[Change]] = {}
        self._told_unsaved: set[int] = set()  # told once per outage that nothing is saved
        self._degraded: set[int] = set()  # loaded from nothing after a failed read: never saved
        self._carrying: dict[int, asyncio.Future[None]] = {}  # messages of an event on their way
        self.coordination = store.coordination
        self.shared = self.coordination.shared
        self._overdue: asyncio.Task[None] | None = None
        self._firing: set[tuple[int, str, int]] = set()  # timers being handled here, to fire once
        self.metrics = metrics or Metrics()
        self.metrics.active_sessions.set_function(lambda: len(self._active))

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Re-arm every stored timer (after a restart) and start the idle sweeper."""
        async with self.store.transaction() as tx:
            pending = await tx.timers.pending()
        now = self.clock()
        for item in pending:
            if item.timer.kind == "halfway" and item.timer.due < now:
                continue  # a late "halfway there" is noise; the release still comes
            self._arm(item.user_id, item.timer)
        if pending:
            log.info("re-armed %d stored timers", len(pending))
        self._sweeper = asyncio.create_task(self._sweep_idle())
        if self.shared:
            await self.coordination.listen(self._preempt)
            self._overdue = asyncio.create_task(self._take_overdue())
        if self.services is not None:
            dispatcher = ReminderDispatcher(StoredReminders(self.store), self._send_reminder,
                                            clock=self.clock, rate_per_second=self.reminder_rate,
                                            before_send=self.budget.reserve,
                                            give_back=self.budget.give_back, spread=self.shared)
            self._reminder_task = asyncio.create_task(dispatcher.run(self._reminder_stop))

    async def close(self) -> None:
        """Stop firing timers, let in-flight events finish, save, and close the store.

        Holds that have not ended stay in the store with their due time, so the next start
        re-arms them; a timer event already running is finished (its message sent) first.
        Call it while the transport can still send. A second call does nothing.
        """
        if self._closing:
            return
        self._closing = True
        deadline = asyncio.get_running_loop().time() + CLOSE_WITHIN
        for handles in self._handles.values():
            for handle in handles:
                handle.cancel()
        self._handles.clear()
        self._reminder_stop.set()
        for task in (self._sweeper, self._overdue):
            if task is not None:
                task.cancel()
        running = [t for t in (self._reminder_task, *self._tasks) if t is not None]
        if running:
            await asyncio.wait(running, timeout=max(0.1, deadline - asyncio.get_running_loop().time()))
        await self._retry_unsaved()
        for uid in list(self._active):
            await self._evict(uid)
        await self.store.close()

    # ------------------------------------------------------------ events
    async def dispatch(self, event: Event, acknowledge: Acknowledge | None = None) -> list[str]:
        """Handle one event for one user. Returns toast texts for the transport to show.

        ``acknowledge``, if given, is awaited with those toasts alongside the messages
        (not after them), so the press is confirmed as soon as the answer is decided.
        """
        uid = event.user_id
        known = self._active.get(uid)
        urgent = self.engine.assess(event, known[1] if known else Profile(uid)).alarming
        if urgent:
            self._preempt(uid)
            if self.shared:  # and in the replica that may be sending to them
                self._background(self.coordination.preempt(uid))
        async with self._locks.hold(uid), self.coordination.hold_user(
                uid, wait=URGENT_HOLD_WAIT if urgent else HOLD_WAIT):
            conv, profile = await self._load(uid)
            assessment = self.engine.assess(event, profile)  # the same reading: remembered
            if isinstance(event, Text | Command) and not self.flood.allow(uid) and (
                    not assessment.alarming):
                await self._flooded(uid, profile)
                return []
            if uid in self._degraded and not assessment.alarming:
                effects: list[Effect] = [self.engine.notice(profile, "system.store_down")]
            else:
                was_active = profile.active
                outcome = await self._handle(conv, profile, event, assessment)
                effects, changes = outcome.effects, outcome.changes
                if self.services is not None and profile.active and not was_active:
                    now = self.clock()  # back after blocking the bot: their reminders too
                    changes.append(lambda tx: tx.reminders.set_active_for_user(uid, True, now))
                await self._save(conv, profile, effects, changes)
            toasts = [effect.text for effect in effects if isinstance(effect, Toast)]
            side = [acknowledge(toasts)] if acknowledge is not None else []
            carrying = asyncio.ensure_future(self._carry_out(conv, effects, side))
            self._carrying[uid] = carrying
            try:
                await asyncio.wait([carrying])
            except asyncio.CancelledError:
                carrying.cancel()
                raise
            finally:
                if self._carrying.get(uid) is carrying:
                    del self._carrying[uid]
            if carrying.cancelled():
                return toasts  # a red flag came in: what was still on its way is stale
            if isinstance(carrying.exception(), RecipientGone):
                await self._recipient_gone(conv, profile)
                return []
            carrying.result()
            if self.shared or uid in self._degraded or (
                    self.engine.flow.states[conv.state].kind == "end" and not conv.timers):
                await self._evict(uid)  # shared: the next event may be another replica's
            return toasts

    def _preempt(self, uid: int) -> None:
        """A red flag for someone whose earlier messages are still waiting to go out (a busy
        minute: the send budget is queued up): those are stale now, so they are dropped,
        and the per-person lock, which the earlier event holds until they are out, frees up
        for the urgent answer at once. The state was written before they were queued."""
        carrying = self._carrying.get(uid)
        if carrying is not None and not carrying.done():
            log.info("user %s: a red flag came in; messages still waiting to go out dropped", uid)
            carrying.cancel()

    async def _flooded(self, uid: int, profile: Profile) -> None:
        """Too many messages too fast: one polite line, then silence until they slow down."""
        if self.flood.warn_once(uid):
            log.info("user %s is sending too fast; dropping messages for a moment", uid)
            with contextlib.suppress(RecipientGone):
                await self.transport.send(uid, self.engine.notice(profile, "system.slow_down"))

    async def _save(self, conv: Conversation, profile: Profile, effects: list[Effect],
                    changes: list[Change]) -> None:
        """Write what the event changed before acting on it: the state, what its effects ask
        to keep, and ``changes``, in one transaction. If the store refuses, act anyway and
        say so (once per outage); all of it is retried (:meth:`_retry_unsaved`)."""
        uid = conv.user_id
        kept = [self._keep(uid, effect) for effect in effects
                if isinstance(effect, LogSession | LogSafety)]
        self._pending.setdefault(uid, []).extend(kept + changes)
        try:
            await self._commit(conv, profile)
        except Exception as exc:
            self.health.failed("write", exc)
            self._unsaved.add(uid)
            if uid not in self._told_unsaved:
                self._told_unsaved.add(uid)
                effects.append(self.engine.notice(profile, "system.store_down"))

    def _keep(self, uid: int, effect: LogSession | LogSafety) -> Change:
        """The change that keeps what ``effect`` asks to keep: a session, or a safety outcome."""
        if isinstance(effect, LogSession):
            session = effect
            return lambda tx: tx.sessions.add(uid, session)
        self.metrics.safety_outcomes.labels(effect.event.tier, effect.event.kind).inc()
        event = effect.event
        return lambda tx: tx.safety_events.add(uid, event)

    async def _commit(self, conv: Conversation, profile: Profile) -> None:
        """One transaction: the user's state and their pending changes, in order. A state
        loaded from nothing after a failed read (see :meth:`_load`) is never written: it
        would overwrite what the store holds."""
        uid = conv.user_id
        degraded = uid in self._degraded
        changes = self._pending.get(uid, [])
        if degraded and not changes:
            return
        async with self.store.transaction() as tx:
            if not degraded:
                await save_user_state(tx, conv, profile)
            for change in changes:
                await change(tx)
        self.health.ok()
        self._pending.pop(uid, None)
        self._unsaved.discard(uid)
        if not degraded:
            self._unsaved_prompts.discard(uid)

    async def _retry_unsaved(self) -> None:
        """Write what the store refused. A user in the middle of an event is left to it: the
        event writes everything of theirs anyway."""
        for uid in list(self._unsaved):
            entry = self._active.get(uid)
            if entry is None:
                self._unsaved.discard(uid)
                self._pending.pop(uid, None)
                continue
            if self._locks.busy(uid):
                continue
            try:
                async with self.coordination.hold_user(uid, wait=URGENT_HOLD_WAIT) as held:
                    if held:  # (shared: not while another replica handles them)
                        await self._commit(entry[0], entry[1])
            except Exception as exc:
                self.health.failed("write", exc)
                return
        if not self._unsaved:
            self._told_unsaved.clear()

    async def _handle(self, conv: Conversation, profile: Profile, event: Event,
                      assessment: Assessment) -> Outcome:
        """The account features take their commands and buttons; the flow engine the rest.

        Triage has read the event's text once, before anyone else sees it.
        """
        if self.services is None or not self.services.claims(event, conv, assessment):
            return Outcome(await self.engine.handle(conv, profile, event, assessment))
        outcome = await self.services.handle(event, conv, profile)
        if outcome.then is not None:
            outcome.effects += await self.engine.handle(conv, profile, outcome.then)
        return outcome

    async def _carry_out(self, conv: Conversation, effects: list[Effect],
                         side: list[Awaitable[None]] | None = None) -> None:
        """Carry out effects in order, with ``side`` work running alongside.

        ``side`` (acknowledging a press) touches no message, so it starts at once instead
        of after the messages. It has finished when this returns, so the user's next event
        waits for it.
        """
        uid = conv.user_id
        pending = [asyncio.ensure_future(work) for work in side or ()]
        try:
            for effect in effects:
                match effect:
                    case CancelTimers():
                        self._cancel(uid)
                    case Schedule():
                        self._arm(uid, effect.timer)
                    case Send():
                        self.budget.note()
                        ref = await self.transport.send(uid, effect)
                        if effect.buttons and effect.seq and ref is not None:
                            photo = effect.picture is not None or (
                                effect.replaces is not None and effect.replaces.picture)
                            conv.prompt = Prompt(ref, effect.text, effect.seq, photo)
                            self._unsaved_prompts.add(uid)
                        elif effect.replaces is None:
                            self._said_below(conv)
                    case SendPhoto():
                        self.budget.note()
                        await self.transport.send_photo(uid, effect)
                        self._said_below(conv)
                    case SendDocument():
                        self.budget.note()
                        await self.transport.send_document(uid, effect)
                        self._said_below(conv)
                    case EraseUser():
                        await self._erase(uid)
                    case ShowMenu():
                        await self.transport.show_menu(uid, effect.language)
        finally:
            # Wait for the side work even if something failed, then raise its first failure.
            results = await asyncio.gather(*pending, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def _said_below(self, conv: Conversation) -> None:
        """A message now sits below the person's current question, so it is no longer edited
        into the next one (an edit up there would go unseen); the store learns it too."""
        if conv.prompt is not None and conv.prompt.latest:
            conv.prompt.latest = False
            self._unsaved_prompts.add(conv.user_id)

    async def _recipient_gone(self, conv: Conversation, profile: Profile) -> None:
        log.info("user %s is unreachable; marked inactive", conv.user_id)
        self._cancel(conv.user_id)
        conv.timers = []
        conv.prompt = None
        profile.active = False
        uid, now = conv.user_id, self.clock()
        await self._save(conv, profile, [], [] if self.services is None else [
            lambda tx: tx.reminders.set_active_for_user(uid, False, now)])
        await self._evict(uid)

    async def _erase(self, user_id: int) -> None:
        """Erase a user completely: timers, memory, and every row in the store."""
        self._cancel(user_id)
        self._unsaved_prompts.discard(user_id)
        await self._evict(user_id)
        async with self.store.transaction() as tx:
            await tx.delete_user(user_id)
        await self.transport.forget(user_id)

    async def _send_reminder(self, due: Due) -> SendResult:
        result = await self._deliver_reminder(due)
        self.metrics.reminders.labels(result.value).inc()
        return result

    async def _deliver_reminder(self, due: Due) -> SendResult:
        """Send one reminder, unless a safety outcome holds or the user is unreachable.

        A skipped reminder is noted on the profile, so that the first one after the pause
        says why reminders are back.
        """
        assert self.services is not None
        async with self._locks.hold(due.user_id), self.coordination.hold_user(
                due.user_id, wait=HOLD_WAIT):
            try:
                return await self._remind(due)
            finally:
                if self.shared:
                    await self._evict(due.user_id)

    async def _remind(self, due: Due) -> SendResult:
        """:meth:`_deliver_reminder` once the person is held."""
        assert self.services is not None
        conv, profile = await self._load(due.user_id)
        if not profile.active:
            return SendResult.SKIPPED
        noted = profile.paused_by
        if self.services.paused(profile):
            if profile.paused_by != noted:
                await self._commit(conv, profile)
            return SendResult.SKIPPED
        message = self.services.nudge(profile, due.reminder_id)
        if profile.paused_by != noted:
            await self._commit(conv, profile)
        try:
            await self.transport.send(due.user_id, message)
        except RecipientGone:
            await self._recipient_gone(conv, profile)
            return SendResult.GONE
        self._said_below(conv)
        return SendResult.SENT

    async def first_delivery(self, update_id: int) -> bool:
        """Whether no process has taken ``update_id`` in yet (noting it now): a transport
        whose updates may come twice, or to another replica, acts only on the first.

        If the store fails, the update is taken: better answered twice than not at all.
        """
        try:
            async with self.store.transaction() as tx:
                return await tx.processed_updates.add(update_id, self.clock())
        except Exception as exc:
            self.health.failed("write", exc)
            return True

    # ------------------------------------------------------------ memory
    async def _load(self, uid: int) -> tuple[Conversation, Profile]:
        entry = self._active.get(uid)
        if entry is not None:
            conv, profile, _ = entry
        else:
            try:
                async with self.store.transaction() as tx:
                    stored, stored_profile = await load_user_state(tx, uid)
            except Exception as exc:  # answer from a fresh state that is never saved
                self.health.failed("read", exc)
                stored, stored_profile = None, None
                self._degraded.add(uid)
            conv = stored or self.engine.new_conversation(uid)
            profile = stored_profile or Profile(uid)
            if conv.state not in self.engine.flow.states:  # the flow changed since it was saved
                conv = self.engine.new_conversation(uid)
            self.engine.attach(conv)
        self._active[uid] = (conv, profile, self.clock())
        return conv, profile

    async def _evict(self, uid: int) -> None:
        if uid in self._unsaved and not self._closing:
            return  # kept in memory until the store takes it
        entry = self._active.pop(uid, None)
        self._degraded.discard(uid)
        self._pending.pop(uid, None)
        if entry is None:
            return
        self.engine.detach(entry[0])
        if uid in self._unsaved_prompts:
            self._unsaved_prompts.discard(uid)
            try:
                async with self.store.transaction() as tx:
                    await tx.conversations.save_prompt(uid, entry[0].prompt)
            except Exception as exc:
                self.health.failed("write", exc)

    async def _sweep_idle(self) -> None:
        """Retry refused writes every few seconds; evict idle users now and then."""
        loop = asyncio.get_running_loop()
        interval = max(1.0, min(60.0, self.idle_evict / 2))
        next_sweep = loop.time() + interval
        while True:
            await asyncio.sleep(min(RETRY_SAVES_EVERY, interval))
            if self._unsaved:
                await self._retry_unsaved()
            if loop.time() < next_sweep:
                continue
            next_sweep = loop.time() + interval
            if self.shared:
                with contextlib.suppress(Exception):  # a failing store is noticed elsewhere
                    async with self.store.transaction() as tx:
                        await tx.processed_updates.forget_before(
                            self.clock() - FORGET_UPDATES_AFTER)
            cutoff = self.clock() - self.idle_evict
            idle = [u for u, (_, _, seen) in self._active.items()
                    if seen < cutoff and not self._locks.busy(u)]
            for uid in idle:
                await self._evict(uid)
            if idle:
                release_memory()

    # ------------------------------------------------------------ timers
    def _arm(self, uid: int, timer: Timer) -> None:
        loop = asyncio.get_running_loop()
        delay = max(0.0, timer.due - self.clock())
        handle = loop.call_later(delay, self._fire, uid, timer)
        self._handles.setdefault(uid, []).append(handle)

    def _cancel(self, uid: int) -> None:
        for handle in self._handles.pop(uid, []):
            handle.cancel()

    def _fire(self, uid: int, timer: Timer) -> None:
        if self._closing:
            return
        self._forget_fired(uid)
        key = (uid, timer.kind, timer.epoch)
        if key in self._firing:
            return  # already on its way here
        self._firing.add(key)
        event = TimerFired(uid, timer.kind, timer.epoch, max(0.0, self.clock() - timer.due))
        self.metrics.timer_lateness_seconds.observe(event.late_by)
        task = self._background(self._run_timer(event))
        task.add_done_callback(lambda _: self._firing.discard(key))

    def _background(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``work`` on its own; :meth:`close` waits for it."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _take_overdue(self) -> None:
        """Shared store: fire the timers nobody fired (their replica died, or was stopped).

        Every replica looks; the per-person hold and the engine's check that a timer is still
        pending make a second firing of the same timer do nothing.
        """
        while not self._closing:
            await asyncio.sleep(OVERDUE_EVERY)
            try:
                async with self.store.transaction() as tx:
                    overdue = await tx.timers.due(self.clock() - OVERDUE_AFTER, OVERDUE_BATCH)
            except Exception as exc:
                self.health.failed("read", exc)
                continue
            for item in overdue:
                self._fire(item.user_id, item.timer)

    def _forget_fired(self, uid: int) -> None:
        now = asyncio.get_running_loop().time()
        pending = [h for h in self._handles.get(uid, []) if not h.cancelled() and h.when() > now]
        if pending:
            self._handles[uid] = pending
        else:
            self._handles.pop(uid, None)

    async def _run_timer(self, event: TimerFired) -> None:
        try:
            await self.dispatch(event)
        except Exception:
            log.exception("timer event failed for user %s", event.user_id)
