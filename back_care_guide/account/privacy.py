"""``/privacy``: what is stored about the person, and for how long."""

from __future__ import annotations

from typing import ClassVar

from back_care_guide.account.base import Feature, Outcome
from back_care_guide.engine.events import Send
from back_care_guide.flow.texts import Texts
from back_care_guide.store.records import Conversation, Profile


class Privacy(Feature):
    commands: ClassVar[frozenset[str]] = frozenset({"privacy"})

    async def command(self, name: str, args: str, conv: Conversation, profile: Profile,
                      texts: Texts) -> Outcome:
        return Outcome([Send(texts.get("privacy.text"))])
