"""``/delete``: erase everything stored about the person, once they confirm."""

from __future__ import annotations

from typing import ClassVar

from back_care_guide.account.base import Feature, Outcome, moved_on
from back_care_guide.engine.events import Button, EraseUser, Send
from back_care_guide.flow.texts import Texts
from back_care_guide.store.records import Conversation, Profile

CONFIRMING = "confirm_delete"  # only the answer to this question's buttons erases


class Erase(Feature):
    commands: ClassVar[frozenset[str]] = frozenset({"delete"})
    prefix: ClassVar[str] = "del"

    async def command(self, name: str, args: str, conv: Conversation, profile: Profile,
                      texts: Texts) -> Outcome:
        conv.ctx[CONFIRMING] = True
        return Outcome([Send(texts.get("delete.ask"), (
            Button("del_yes", texts.get("delete.confirm")),
            Button("del_no", texts.get("delete.cancel"))))])

    async def button(self, parts: list[str], conv: Conversation, profile: Profile,
                     texts: Texts) -> Outcome:
        match parts:
            case ["yes"] if conv.ctx.pop(CONFIRMING, False):
                # Said in the person's language; nothing of theirs is left to say it with after.
                return Outcome([EraseUser(), Send(texts.get("delete.done"))])
            case ["no"] if conv.ctx.pop(CONFIRMING, False):
                return Outcome([Send(texts.get("delete.cancelled"))])
        return moved_on(texts)
