"""``/delete``: erase everything stored about the person, once they confirm."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from back_care_guide.account.base import Account, Feature, Kept, Outcome, moved_on
from back_care_guide.engine.events import Button, EraseUser, Send
from back_care_guide.flow.texts import Texts
from back_care_guide.store.records import Conversation, Profile


@dataclass
class Asked:
    open: bool = False  # the erase question is open: only its own buttons erase, once


class Erase(Feature):
    commands: ClassVar[frozenset[str]] = frozenset({"delete"})
    prefix: ClassVar[str] = "del"

    def __init__(self, account: Account) -> None:
        super().__init__(account)
        self.asked = Kept(self.prefix, Asked)

    async def command(self, name: str, args: str, conv: Conversation, profile: Profile,
                      texts: Texts) -> Outcome:
        self.asked.put(conv, Asked(open=True))
        return Outcome([Send(texts.get("delete.ask"), (
            Button("del_yes", texts.get("delete.confirm")),
            Button("del_no", texts.get("delete.cancel"))))])

    async def button(self, parts: list[str], conv: Conversation, profile: Profile,
                     texts: Texts) -> Outcome:
        asked = self.asked.get(conv).open
        self.asked.put(conv, Asked())
        match parts:
            case ["yes"] if asked:
                # Said in the person's language; nothing of theirs is left to say it with after.
                return Outcome([EraseUser(), Send(texts.get("delete.done"))])
            case ["no"] if asked:
                return Outcome([Send(texts.get("delete.cancelled"))])
        return moved_on(texts)
