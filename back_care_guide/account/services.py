"""The account features next to the guided flow, and which of them takes an event.

These are not steps of the conversation, so they live beside the flow's state machine
rather than in it. Each is its own module (:mod:`.reminders`, :mod:`.timezone`,
:mod:`.progress`, :mod:`.privacy`, :mod:`.export`, :mod:`.erase`, :mod:`.language`)
behind :class:`~.base.Feature`; this router only finds the one an event is for.

Safety still comes first: free text reaches a feature (a typed time, a city) only when
triage found nothing in it, and no reminder is set while a safety outcome holds.
"""

from __future__ import annotations

from collections.abc import Callable

from back_care_guide.account.base import ASKING, Account, Feature, Outcome
from back_care_guide.account.erase import Erase
from back_care_guide.account.export import Export
from back_care_guide.account.language import Language
from back_care_guide.account.privacy import Privacy
from back_care_guide.account.progress import Progress
from back_care_guide.account.reminders import Reminders
from back_care_guide.account.timezone import TimeZones
from back_care_guide.engine.events import Choose, Command, Event, Send, Text
from back_care_guide.flow.loader import FlowBundle
from back_care_guide.safety.triage import Action, Assessment
from back_care_guide.store.base import Store
from back_care_guide.store.records import Conversation, Profile


class Services:
    """Every account feature, found by command, by button prefix or by what it asked."""

    def __init__(self, bundle: FlowBundle, store: Store, *, clock: Callable[[], float]) -> None:
        self.bundle = bundle
        account = Account(bundle, store, clock)
        zones = TimeZones(account)
        self.reminders = Reminders(account, zones)
        features: list[Feature] = [self.reminders, zones, Progress(account), Privacy(account),
                                   Export(account), Erase(account), Language(account)]
        self._by_command = {name: feature for feature in features for name in feature.commands}
        self._by_prefix = {feature.prefix: feature for feature in features if feature.prefix}
        if len(self._by_command) != sum(len(f.commands) for f in features) or (
                len(self._by_prefix) != sum(1 for f in features if f.prefix)):
            raise ValueError("two account features share a command or a prefix")

    @property
    def commands(self) -> frozenset[str]:
        return frozenset(self._by_command)

    def claims(self, event: Event, conv: Conversation, assessment: Assessment) -> bool:
        """Whether a feature takes the event; typed text only when triage found nothing."""
        match event:
            case Command(name=name):
                return name in self._by_command
            case Choose(seq=0, choice=choice):
                return _prefix(choice) in self._by_prefix
            case Text(kind="message"):
                return (_prefix(conv.ctx.get(ASKING, "")) in self._by_prefix
                        and assessment.action is Action.NONE)
        return False

    async def handle(self, event: Event, conv: Conversation, profile: Profile) -> Outcome:
        texts = self.bundle.texts(profile.language)
        match event:
            case Command(name=name, args=args) if name in self._by_command:
                return await self._by_command[name].command(name, args.strip(), conv, profile, texts)
            case Choose(choice=choice) if _prefix(choice) in self._by_prefix:
                pressed = self._by_prefix[_prefix(choice)]
                return await pressed.button(choice.split("_")[1:], conv, profile, texts)
            case Text(text=text):
                asked = conv.ctx.get(ASKING, "")
                asking = self._by_prefix.get(_prefix(asked))
                if asking is not None:
                    return await asking.answer(asked, text, conv, profile, texts)
        return Outcome([])

    def paused(self, profile: Profile) -> bool:
        """Whether a safety outcome holds, so no reminder goes out (noted, to say so later)."""
        return self.reminders.paused(profile)

    def nudge(self, profile: Profile, reminder_id: int) -> Send:
        """The reminder message; see :meth:`.reminders.Reminders.nudge`."""
        return self.reminders.nudge(profile, reminder_id)


def _prefix(choice: str) -> str:
    return choice.split("_", 1)[0] if "_" in choice else ""
