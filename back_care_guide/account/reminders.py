"""``/remind`` and ``/reminders``: daily reminders, and the reminder message itself.

No reminder is set, and none goes out, while a safety outcome holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import ClassVar

from back_care_guide.account.base import ASKING, Account, Change, Feature, Kept, Outcome, moved_on
from back_care_guide.account.timezone import TimeZones
from back_care_guide.engine.events import Button, Effect, Priority, Send, Start, Toast
from back_care_guide.flow.texts import Texts
from back_care_guide.reminders.parse import parse_time
from back_care_guide.reminders.schedule import ReminderRule
from back_care_guide.safety import hold as holds
from back_care_guide.safety.triage_rules import Tier
from back_care_guide.store.records import Conversation, Profile, Reminder
from back_care_guide.store.repositories import room_for

PRESETS = {"morning": time(8, 0), "lunchtime": time(12, 30), "evening": time(19, 0)}
SNOOZE_SECONDS = 30 * 60
OWNED = frozenset({"del", "chg", "start", "snooze", "skip"})  # buttons naming the presser's own


@dataclass
class Pending:
    """What /remind is in the middle of."""

    time: str | None = None  # "HHMM", typed before the time zone was known: saved once it is
    changing: int | None = None  # the id of the reminder being changed


class Reminders(Feature):
    commands: ClassVar[frozenset[str]] = frozenset({"remind", "reminders"})
    prefix: ClassVar[str] = "rm"

    def __init__(self, account: Account, zones: TimeZones) -> None:
        super().__init__(account)
        self.zones = zones
        self.pending = Kept(self.prefix, Pending)
        zones.follow_ups.append(self._zone_saved)

    async def command(self, name: str, args: str, conv: Conversation, profile: Profile,
                      texts: Texts) -> Outcome:
        if name == "reminders":
            return Outcome(await self._list(profile, texts))
        return await self._remind(conv, profile, texts, args.strip())

    async def button(self, parts: list[str], conv: Conversation, profile: Profile,
                     texts: Texts) -> Outcome:
        """What a button names (a reminder) must be the presser's own: a forged or replayed
        press changes nothing."""
        match parts:
            case [verb, rid] if rid.isdigit() and verb in OWNED and not await self._owns(
                    profile, int(rid)):
                return Outcome([Toast(texts.get("remind.gone"))])
            case ["at", preset] if preset in PRESETS:
                return Outcome(self._ask_days(conv, texts, PRESETS[preset]))
            case ["other"]:
                self.expect(conv, "time")
                return Outcome([Send(texts.get("remind.type_time"))])
            case [days, hhmm] if days in ("d", "w") and len(hhmm) == 4 and hhmm.isdigit():
                at = parse_time(f"{hhmm[:2]}:{hhmm[2:]}")
                if at is not None:
                    return await self._save(conv, profile, texts, at, weekdays_only=days == "w")
            case ["del", rid] if rid.isdigit():
                reminder_id = int(rid)
                return Outcome([Send(texts.get("remind.deleted"))],
                               changes=[lambda tx: tx.reminders.delete(reminder_id)])
            case ["chg", rid] if rid.isdigit():
                pending = self.pending.get(conv)
                pending.changing = int(rid)
                self.pending.put(conv, pending)
                return Outcome(self._ask_time(conv, texts))
            case ["start", rid] if rid.isdigit():
                return Outcome([], then=Start(profile.user_id, profile.language))
            case ["snooze", rid] if rid.isdigit():
                reminder = await self._reminder(int(rid))
                if reminder is None or not reminder.active:
                    return Outcome([Send(texts.get("remind.gone"))])
                until = self.account.clock() + SNOOZE_SECONDS
                return Outcome([Send(texts.get("remind.snoozed"))],
                               changes=[lambda tx: tx.reminders.snooze(int(rid), until)])
            case ["skip", rid] if rid.isdigit():
                if await self._reminder(int(rid)) is None:
                    return Outcome([Send(texts.get("remind.gone"))])
                now = self.account.clock()
                return Outcome([Send(texts.get("remind.skipped"))],
                               changes=[lambda tx: tx.reminders.skip_today(int(rid), now)])
        return moved_on(texts)

    async def answer(self, asked: str, text: str, conv: Conversation, profile: Profile,
                     texts: Texts) -> Outcome:
        at = parse_time(text)
        if at is None:
            return Outcome([Send(texts.get("remind.bad_time"))])
        return Outcome(self._ask_days(conv, texts, at))

    # ------------------------------------------------------------ the reminder message
    def paused(self, profile: Profile) -> bool:
        """Whether a safety outcome holds, so no reminder goes out (noted, to say so later)."""
        bundle = self.account.bundle
        if holds.active(profile.hold, bundle.triage, self.account.clock(), holds.zone_of(profile)):
            assert profile.hold is not None
            profile.paused_by = profile.hold.tier
            return True
        return False

    def nudge(self, profile: Profile, reminder_id: int) -> Send:
        """The reminder; the first one after a safety pause says why they are back."""
        bundle = self.account.bundle
        texts = bundle.texts(profile.language)
        text = texts.get("remind.nudge")
        if profile.paused_by is not None:
            tier = Tier(profile.paused_by)
            text = f"{texts.get(bundle.triage.tiers.rule(tier).resume)}\n\n{text}"
            profile.paused_by = None
        return Send(text, priority=Priority.BULK, buttons=(
            Button(f"rm_start_{reminder_id}", texts.get("remind.start")),
            Button(f"rm_snooze_{reminder_id}", texts.get("remind.snooze")),
            Button(f"rm_skip_{reminder_id}", texts.get("remind.skip"))))

    # ------------------------------------------------------------ setting one
    async def _remind(self, conv: Conversation, profile: Profile, texts: Texts, args: str) -> Outcome:
        bundle = self.account.bundle
        if holds.active(profile.hold, bundle.triage, self.account.clock(), holds.zone_of(profile)):
            return Outcome([Send(texts.get("remind.locked"))])
        self.pending.put(conv, Pending(time=self.pending.get(conv).time))  # changing none now
        if args.lower() == "off":
            uid = profile.user_id
            return Outcome([Send(texts.get("remind.off"))],
                           changes=[lambda tx: tx.reminders.delete_all(uid)])
        if args:
            at = parse_time(args)
            if at is None:
                return Outcome([Send(texts.get("remind.bad_time"))])
            return await self._save(conv, profile, texts, at, weekdays_only=False)
        if profile.timezone is None:
            return Outcome(self.zones.ask_zone(conv, texts))
        return Outcome(self._ask_time(conv, texts))

    def _ask_time(self, conv: Conversation, texts: Texts) -> list[Effect]:
        self.expect(conv, "time")
        buttons = tuple(Button(f"rm_at_{name}", texts.get(f"remind.{name}")) for name in PRESETS)
        return [Send(texts.get("remind.ask_time"), (*buttons, Button("rm_other", texts.get("remind.other"))))]

    def _ask_days(self, conv: Conversation, texts: Texts, at: time) -> list[Effect]:
        conv.ctx.pop(ASKING, None)
        hhmm = at.strftime("%H%M")
        return [Send(texts.get("remind.ask_days"), (
            Button(f"rm_d_{hhmm}", texts.get("remind.daily")),
            Button(f"rm_w_{hhmm}", texts.get("remind.weekdays"))))]

    async def _save(self, conv: Conversation, profile: Profile, texts: Texts, at: time, *,
                    weekdays_only: bool) -> Outcome:
        pending = self.pending.get(conv)
        if profile.timezone is None:
            pending.time = at.strftime("%H%M")
            self.pending.put(conv, pending)
            return Outcome(self.zones.ask_zone(conv, texts))
        rule = ReminderRule(at, weekdays_only, profile.timezone)
        now = self.account.clock()
        uid = profile.user_id
        changing, pending.changing = pending.changing, None
        self.pending.put(conv, pending)
        changes: list[Change]
        if changing is not None and await self._owns(profile, changing):
            changes = [lambda tx: tx.reminders.update(changing, rule, now)]
        elif room_for(await self._reminders(uid), rule):
            changes = [lambda tx: tx.reminders.add(uid, rule, now)]
        else:
            return Outcome([Send(texts.get("remind.too_many"))])
        return Outcome([Send(texts.get("remind.saved", **_describe(rule, texts)))], changes=changes)

    async def _zone_saved(self, conv: Conversation, profile: Profile, texts: Texts) -> Outcome:
        """The time typed before the zone was known is saved now; the first reminder was
        what needed the zone, so it is asked for next."""
        pending = self.pending.get(conv)
        hhmm, pending.time = pending.time, None
        self.pending.put(conv, pending)
        if hhmm is not None:
            at = parse_time(f"{hhmm[:2]}:{hhmm[2:]}")
            assert at is not None
            return await self._save(conv, profile, texts, at, weekdays_only=False)
        if not await self._reminders(profile.user_id):
            return Outcome(self._ask_time(conv, texts))
        return Outcome([])

    # ------------------------------------------------------------ reading them
    async def _list(self, profile: Profile, texts: Texts) -> list[Effect]:
        items = await self._reminders(profile.user_id)
        if not items:
            return [Send(texts.get("remind.none"))]
        lines = [texts.get("remind.list")]
        lines += [texts.get("remind.item", **_describe(r.rule, texts)) for r in items]
        buttons: list[Button] = []
        for reminder in items:
            hhmm = reminder.rule.hhmm
            buttons.append(Button(f"rm_chg_{reminder.id}", texts.get("remind.change", time=hhmm)))
            buttons.append(Button(f"rm_del_{reminder.id}", texts.get("remind.delete", time=hhmm)))
        return [Send("\n".join(lines), tuple(buttons))]

    async def _reminders(self, user_id: int) -> list[Reminder]:
        async with self.account.store.transaction() as tx:
            return await tx.reminders.list(user_id)

    async def _reminder(self, reminder_id: int) -> Reminder | None:
        async with self.account.store.transaction() as tx:
            return await tx.reminders.get(reminder_id)

    async def _owns(self, profile: Profile, reminder_id: int) -> bool:
        reminder = await self._reminder(reminder_id)
        return reminder is not None and reminder.user_id == profile.user_id


def _describe(rule: ReminderRule, texts: Texts) -> dict[str, object]:
    label = texts.get("remind.weekdays" if rule.weekdays_only else "remind.daily")
    return {"label": label, "time": rule.hhmm, "zone": rule.zone}
