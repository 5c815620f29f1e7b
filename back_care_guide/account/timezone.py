"""``/timezone``: the person's time zone, which their reminders follow."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from back_care_guide.account.base import ASKING, Account, Feature, Outcome, moved_on
from back_care_guide.engine.events import Button, Effect, Send
from back_care_guide.flow.texts import Texts
from back_care_guide.reminders.parse import resolve_timezone
from back_care_guide.store.records import Conversation, Profile

COMMON_ZONES = ("Europe/London", "Europe/Berlin", "America/New_York", "America/Chicago",
                "America/Los_Angeles", "Asia/Kolkata", "Australia/Sydney", "UTC")

#: What happens once a zone is saved (the reminder that was waiting for it).
FollowUp = Callable[[Conversation, Profile, Texts], Awaitable[Outcome]]


class TimeZones(Feature):
    commands: ClassVar[frozenset[str]] = frozenset({"timezone"})
    prefix: ClassVar[str] = "tz"

    def __init__(self, account: Account) -> None:
        super().__init__(account)
        self.follow_ups: list[FollowUp] = []

    async def command(self, name: str, args: str, conv: Conversation, profile: Profile,
                      texts: Texts) -> Outcome:
        return Outcome(self.ask_zone(conv, texts))

    async def button(self, parts: list[str], conv: Conversation, profile: Profile,
                     texts: Texts) -> Outcome:
        match parts:
            case [index] if index.isdigit() and int(index) < len(COMMON_ZONES):
                return await self._set_zone(conv, profile, texts, COMMON_ZONES[int(index)])
        return moved_on(texts)

    async def answer(self, asked: str, text: str, conv: Conversation, profile: Profile,
                     texts: Texts) -> Outcome:
        zone = resolve_timezone(text, texts.language)
        if zone is None:
            return Outcome([Send(texts.get("tz.unknown"))])
        return await self._set_zone(conv, profile, texts, zone)

    def ask_zone(self, conv: Conversation, texts: Texts) -> list[Effect]:
        self.expect(conv, "zone")
        buttons = tuple(Button(f"tz_{i}", texts.city(zone)) for i, zone in enumerate(COMMON_ZONES))
        return [Send(texts.get("tz.ask"), buttons)]

    async def _set_zone(self, conv: Conversation, profile: Profile, texts: Texts, zone: str) -> Outcome:
        profile.timezone = zone
        conv.ctx.pop(ASKING, None)
        uid, now = profile.user_id, self.account.clock()
        outcome = Outcome([Send(texts.get("tz.saved", zone=zone))],
                          changes=[lambda tx: tx.reminders.set_zone_for_user(uid, zone, now)])
        for follow_up in self.follow_ups:
            more = await follow_up(conv, profile, texts)
            outcome.effects += more.effects
            outcome.changes += more.changes
        return outcome
