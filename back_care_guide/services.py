"""Account features next to the guided flow: reminders, time zone, progress, privacy, export, delete.

These are not steps of the conversation, so they live beside the flow's state machine
rather than in it. Like the engine they know no transport: they take events and return
effects, and the changes to store with them (:attr:`Outcome.changes`: the runtime writes
them in the event's one transaction, with the conversation). Their buttons use prompt
number 0 (they never replace the flow's current question) and choice ids starting with
``rm_``, ``tz_`` or ``del_``.

Safety still comes first: free text reaches a feature (a typed time, a city) only when
triage found nothing in it, and no reminder is set while a safety outcome holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, tzinfo

from back_care_guide.engine.events import (
    Button,
    Choose,
    Command,
    Effect,
    EraseUser,
    Event,
    LogSession,
    Priority,
    Send,
    SendDocument,
    SendPhoto,
    Start,
    Text,
    Toast,
)
from back_care_guide.export import build_export
from back_care_guide.flow.loader import FlowBundle
from back_care_guide.flow.texts import Texts
from back_care_guide.progress.model import SessionRecord
from back_care_guide.progress.summary import summarize
from back_care_guide.reminders.parse import parse_time, resolve_timezone
from back_care_guide.reminders.schedule import ReminderRule
from back_care_guide.safety import hold as holds
from back_care_guide.safety.triage import Action, Assessment
from back_care_guide.safety.triage_rules import Tier
from back_care_guide.store.base import Store, Transaction
from back_care_guide.store.records import Conversation, Profile, Reminder
from back_care_guide.store.repositories import room_for

COMMANDS = frozenset({"remind", "reminders", "timezone", "progress", "privacy", "export", "delete"})
PREFIXES = ("rm_", "tz_", "del_")
PRESETS = {"morning": time(8, 0), "lunchtime": time(12, 30), "evening": time(19, 0)}
COMMON_ZONES = ("Europe/London", "Europe/Berlin", "America/New_York", "America/Chicago",
                "America/Los_Angeles", "Asia/Kolkata", "Australia/Sydney", "UTC")
SNOOZE_SECONDS = 30 * 60
OWNED = frozenset({"del", "chg", "start", "snooze", "skip"})  # reminder buttons: the presser's own
PROGRESS_DAYS = 30


#: A change to the store, made in the unit of work of the event that asked for it.
Change = Callable[[Transaction], Awaitable[object]]


@dataclass
class Outcome:
    effects: list[Effect]
    then: Event | None = None  # an event for the flow engine to handle next (Start session)
    # Written with the conversation, in one transaction: decided here from what was read,
    # so the replies above already say how it went. The runtime holds the person's lock
    # from the reading to the writing, so what was read still holds.
    changes: list[Change] = field(default_factory=list)


class Services:
    def __init__(self, bundle: FlowBundle, store: Store, *, clock: Callable[[], float]) -> None:
        self.bundle = bundle
        self.store = store
        self.clock = clock

    # ------------------------------------------------------------ routing
    def claims(self, event: Event, conv: Conversation, assessment: Assessment) -> bool:
        """Whether a feature takes the event; typed text only when triage found nothing."""
        match event:
            case Command(name=name):
                return name in COMMANDS
            case Choose(seq=0, choice=choice):
                return choice.startswith(PREFIXES)
            case Text(kind="message"):
                asking = conv.ctx.get("asking", "")
                return asking.startswith(PREFIXES) and assessment.action is Action.NONE
        return False

    async def handle(self, event: Event, conv: Conversation, profile: Profile) -> Outcome:
        texts = self.bundle.texts(profile.language)
        match event:
            case Command(name="remind", args=args):
                return await self._remind_command(conv, profile, texts, args.strip())
            case Command(name="reminders"):
                return Outcome(await self._list(profile, texts))
            case Command(name="timezone"):
                return Outcome(self._ask_zone(conv, texts))
            case Command(name="progress"):
                return Outcome(await self._progress(profile, texts))
            case Command(name="privacy"):
                return Outcome([Send(texts.get("privacy.text"))])
            case Command(name="export"):
                export = await build_export(profile, self.store, self.bundle.triage, self.clock())
                return Outcome([SendDocument(export.filename, export.to_json(),
                                             texts.get("export.caption"))])
            case Command(name="delete"):
                conv.ctx["confirm_delete"] = True  # only this question's "yes" erases
                return Outcome([Send(texts.get("delete.ask"), (
                    Button("del_yes", texts.get("delete.confirm")),
                    Button("del_no", texts.get("delete.cancel"))))])
            case Choose(choice=choice):
                return await self._on_button(conv, profile, texts, choice)
            case Text(text=text):
                return await self._on_text(conv, profile, texts, text)
        return Outcome([])

    # ------------------------------------------------------------ buttons
    async def _on_button(self, conv: Conversation, profile: Profile, texts: Texts,
                         choice: str) -> Outcome:
        """A feature's button. What it names (a reminder, the erase question) must be the
        presser's own and still open: a forged or replayed press changes nothing."""
        parts = choice.split("_")
        match parts:
            case ["del", "yes"] if conv.ctx.pop("confirm_delete", False):
                return Outcome([EraseUser(), Send(self.bundle.texts(None).get("delete.done"))])
            case ["del", "no"] if conv.ctx.pop("confirm_delete", False):
                return Outcome([Send(texts.get("delete.cancelled"))])
            case ["rm", verb, rid] if rid.isdigit() and verb in OWNED and not await self._owns(
                    profile, int(rid)):
                return Outcome([Toast(texts.get("remind.gone"))])
            case ["tz", index] if index.isdigit() and int(index) < len(COMMON_ZONES):
                return await self._set_zone(conv, profile, texts, COMMON_ZONES[int(index)])
            case ["rm", "at", preset] if preset in PRESETS:
                return Outcome(self._ask_days(conv, texts, PRESETS[preset]))
            case ["rm", "other"]:
                conv.ctx["asking"] = "rm_time"
                return Outcome([Send(texts.get("remind.type_time"))])
            case ["rm", days, hhmm] if days in ("d", "w") and len(hhmm) == 4 and hhmm.isdigit():
                at = parse_time(f"{hhmm[:2]}:{hhmm[2:]}")
                if at is not None:
                    return await self._save(conv, profile, texts, at, weekdays_only=days == "w")
            case ["rm", "del", rid] if rid.isdigit():
                return await self._delete_one(profile, texts, int(rid))
            case ["rm", "chg", rid] if rid.isdigit():
                conv.ctx["changing"] = int(rid)
                return Outcome(self._ask_time(conv, texts))
            case ["rm", "start", rid] if rid.isdigit():
                return Outcome([], then=Start(profile.user_id, profile.language))
            case ["rm", "snooze", rid] if rid.isdigit():
                reminder = await self._reminder(int(rid))
                if reminder is None or not reminder.active:
                    return Outcome([Send(texts.get("remind.gone"))])
                until = self.clock() + SNOOZE_SECONDS
                return Outcome([Send(texts.get("remind.snoozed"))],
                               changes=[lambda tx: tx.reminders.snooze(int(rid), until)])
            case ["rm", "skip", rid] if rid.isdigit():
                if await self._reminder(int(rid)) is None:
                    return Outcome([Send(texts.get("remind.gone"))])
                now = self.clock()
                return Outcome([Send(texts.get("remind.skipped"))],
                               changes=[lambda tx: tx.reminders.skip_today(int(rid), now)])
        return Outcome([Toast(texts.get("system.moved_on"))])

    async def _on_text(self, conv: Conversation, profile: Profile, texts: Texts, text: str) -> Outcome:
        asking = conv.ctx.get("asking")
        if asking == "tz_zone":
            zone = resolve_timezone(text)
            if zone is None:
                return Outcome([Send(texts.get("tz.unknown"))])
            return await self._set_zone(conv, profile, texts, zone)
        at = parse_time(text)
        if at is None:
            return Outcome([Send(texts.get("remind.bad_time"))])
        return Outcome(self._ask_days(conv, texts, at))

    # ------------------------------------------------------------ reminders
    async def _remind_command(self, conv: Conversation, profile: Profile, texts: Texts,
                              args: str) -> Outcome:
        if holds.active(profile.hold, self.bundle.triage, self.clock(), holds.zone_of(profile)):
            return Outcome([Send(texts.get("remind.locked"))])
        conv.ctx.pop("changing", None)
        if args.lower() == "off":
            uid = profile.user_id
            return Outcome([Send(texts.get("remind.off"))],
                           changes=[lambda tx: tx.reminders.delete_all(uid)])
        if args:
            at = parse_time(args)
            if at is None:
                return Outcome([Send(texts.get("remind.bad_time"))])
            if profile.timezone is None:
                conv.ctx["pending_time"] = at.strftime("%H%M")
                return Outcome(self._ask_zone(conv, texts))
            return await self._save(conv, profile, texts, at, weekdays_only=False)
        if profile.timezone is None:
            return Outcome(self._ask_zone(conv, texts))
        return Outcome(self._ask_time(conv, texts))

    def _ask_time(self, conv: Conversation, texts: Texts) -> list[Effect]:
        conv.ctx["asking"] = "rm_time"
        buttons = tuple(Button(f"rm_at_{name}", texts.get(f"remind.{name}")) for name in PRESETS)
        return [Send(texts.get("remind.ask_time"), (*buttons, Button("rm_other", texts.get("remind.other"))))]

    def _ask_days(self, conv: Conversation, texts: Texts, at: time) -> list[Effect]:
        conv.ctx.pop("asking", None)
        hhmm = at.strftime("%H%M")
        return [Send(texts.get("remind.ask_days"), (
            Button(f"rm_d_{hhmm}", texts.get("remind.daily")),
            Button(f"rm_w_{hhmm}", texts.get("remind.weekdays"))))]

    async def _save(self, conv: Conversation, profile: Profile, texts: Texts, at: time, *,
                    weekdays_only: bool) -> Outcome:
        if profile.timezone is None:
            conv.ctx["pending_time"] = at.strftime("%H%M")
            return Outcome(self._ask_zone(conv, texts))
        rule = ReminderRule(at, weekdays_only, profile.timezone)
        now = self.clock()
        uid = profile.user_id
        changing = conv.ctx.pop("changing", None)
        changes: list[Change]
        if changing is not None and await self._owns(profile, int(changing)):
            changes = [lambda tx: tx.reminders.update(int(changing), rule, now)]
        elif room_for(await self._reminders(uid), rule):
            changes = [lambda tx: tx.reminders.add(uid, rule, now)]
        else:
            return Outcome([Send(texts.get("remind.too_many"))])
        return Outcome([Send(texts.get("remind.saved", **self._describe(rule, texts)))], changes=changes)

    async def _list(self, profile: Profile, texts: Texts) -> list[Effect]:
        items = await self._reminders(profile.user_id)
        if not items:
            return [Send(texts.get("remind.none"))]
        lines = [texts.get("remind.list")]
        lines += [texts.get("remind.item", **self._describe(r.rule, texts)) for r in items]
        buttons: list[Button] = []
        for reminder in items:
            hhmm = reminder.rule.hhmm
            buttons.append(Button(f"rm_chg_{reminder.id}", texts.get("remind.change", time=hhmm)))
            buttons.append(Button(f"rm_del_{reminder.id}", texts.get("remind.delete", time=hhmm)))
        return [Send("\n".join(lines), tuple(buttons))]

    async def _reminders(self, user_id: int) -> list[Reminder]:
        async with self.store.transaction() as tx:
            return await tx.reminders.list(user_id)

    async def _reminder(self, reminder_id: int) -> Reminder | None:
        async with self.store.transaction() as tx:
            return await tx.reminders.get(reminder_id)

    async def _owns(self, profile: Profile, reminder_id: int) -> bool:
        reminder = await self._reminder(reminder_id)
        return reminder is not None and reminder.user_id == profile.user_id

    async def _delete_one(self, profile: Profile, texts: Texts, reminder_id: int) -> Outcome:
        return Outcome([Send(texts.get("remind.deleted"))],
                       changes=[lambda tx: tx.reminders.delete(reminder_id)])

    @staticmethod
    def _describe(rule: ReminderRule, texts: Texts) -> dict[str, object]:
        label = texts.get("remind.weekdays" if rule.weekdays_only else "remind.daily")
        return {"label": label, "time": rule.hhmm, "zone": rule.zone}

    # ------------------------------------------------------------ time zone
    def _ask_zone(self, conv: Conversation, texts: Texts) -> list[Effect]:
        conv.ctx["asking"] = "tz_zone"
        buttons = tuple(Button(f"tz_{i}", zone.split("/")[-1].replace("_", " "))
                        for i, zone in enumerate(COMMON_ZONES))
        return [Send(texts.get("tz.ask"), buttons)]

    async def _set_zone(self, conv: Conversation, profile: Profile, texts: Texts, zone: str) -> Outcome:
        profile.timezone = zone
        conv.ctx.pop("asking", None)
        uid, now = profile.user_id, self.clock()
        outcome = Outcome([Send(texts.get("tz.saved", zone=zone))],
                          changes=[lambda tx: tx.reminders.set_zone_for_user(uid, zone, now)])
        pending = conv.ctx.pop("pending_time", None)
        if pending is not None:
            at = parse_time(f"{pending[:2]}:{pending[2:]}")
            assert at is not None
            saved = await self._save(conv, profile, texts, at, weekdays_only=False)
            outcome.effects += saved.effects
            outcome.changes += saved.changes
        elif not await self._reminders(uid):
            outcome.effects += self._ask_time(conv, texts)  # the first reminder was what needed the zone
        return outcome

    # ------------------------------------------------------------ progress
    async def _progress(self, profile: Profile, texts: Texts) -> list[Effect]:
        now = datetime.fromtimestamp(self.clock(), UTC)
        zone = holds.zone_of(profile)
        since = self.clock() - (PROGRESS_DAYS + 1) * 86400
        records = [SessionRecord(datetime.fromtimestamp(s.started_at, UTC), s.outcome,
                                 s.pain_before, s.pain_after)
                   for s in await self._sessions(profile.user_id, since)]
        summary = summarize(records, now, zone, PROGRESS_DAYS)
        if not summary.has_data:
            return [Send(texts.get("progress.empty"))]
        change = (texts.get("progress.no_change") if summary.average_change is None
                  else f"{summary.average_change:+.1f}")
        caption = texts.get("progress.summary", completed=summary.sessions_completed,
                            change=change, streak=summary.current_streak_days)
        png = await asyncio.to_thread(_render, records, now, zone, texts)
        return [SendPhoto(png, caption)]

    async def _sessions(self, user_id: int, since: float) -> list[LogSession]:
        async with self.store.transaction() as tx:
            return await tx.sessions.since(user_id, since)

    # ------------------------------------------------------------ reminder messages
    def paused(self, profile: Profile) -> bool:
        """Whether a safety outcome holds, so no reminder goes out (noted, to say so later)."""
        if holds.active(profile.hold, self.bundle.triage, self.clock(), holds.zone_of(profile)):
            assert profile.hold is not None
            profile.paused_by = profile.hold.tier
            return True
        return False

    def nudge(self, profile: Profile, reminder_id: int) -> Send:
        """The reminder; the first one after a safety pause says why they are back."""
        texts = self.bundle.texts(profile.language)
        text = texts.get("remind.nudge")
        if profile.paused_by is not None:
            tier = Tier(profile.paused_by)
            text = f"{texts.get(self.bundle.triage.tiers.rule(tier).resume)}\n\n{text}"
            profile.paused_by = None
        return Send(text, priority=Priority.BULK, buttons=(
            Button(f"rm_start_{reminder_id}", texts.get("remind.start")),
            Button(f"rm_snooze_{reminder_id}", texts.get("remind.snooze")),
            Button(f"rm_skip_{reminder_id}", texts.get("remind.skip"))))


def _render(records: list[SessionRecord], now: datetime, zone: tzinfo, texts: Texts) -> bytes:
    from back_care_guide.progress.chart import ChartLabels, render_chart  # matplotlib loads only when needed

    labels = ChartLabels(
        pain_title=texts.get("progress.pain_title"), pain_axis=texts.get("progress.pain_axis"),
        before=texts.get("progress.before"), after=texts.get("progress.after"),
        weekly_title=texts.get("progress.weekly_title"), weekly_axis=texts.get("progress.weekly_axis"),
        empty=texts.get("progress.chart_empty"),
        month_names=tuple(texts.get("progress.months").split()),
        date_format=texts.get("progress.date_format"))
    return render_chart(records, now, zone, labels, PROGRESS_DAYS)


__all__ = ["COMMANDS", "Change", "Outcome", "Services"]
