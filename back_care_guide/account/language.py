"""``/language``: the language the bot speaks to the person, kept in their profile.

Without a choice, it follows Telegram's ``language_code`` when the bot speaks that
language. A choice made here sticks: Telegram's setting no longer changes it.
"""

from __future__ import annotations

from typing import ClassVar

from back_care_guide.account.base import Feature, Outcome, moved_on
from back_care_guide.engine.events import Button, Send, ShowMenu
from back_care_guide.flow.loader import DEFAULT_LANGUAGE
from back_care_guide.flow.texts import Texts
from back_care_guide.store.records import Conversation, Profile


class Language(Feature):
    commands: ClassVar[frozenset[str]] = frozenset({"language"})
    prefix: ClassVar[str] = "lang"

    async def command(self, name: str, args: str, conv: Conversation, profile: Profile,
                      texts: Texts) -> Outcome:
        bundle = self.account.bundle
        codes = sorted(bundle.locales, key=lambda code: (code != DEFAULT_LANGUAGE, code))
        buttons = tuple(Button(f"lang_{code}", bundle.texts(code).language_name()) for code in codes)
        return Outcome([Send(texts.get("language.ask"), buttons)])

    async def button(self, parts: list[str], conv: Conversation, profile: Profile,
                     texts: Texts) -> Outcome:
        match parts:
            case [code] if code in self.account.bundle.locales:
                profile.language = code
                return Outcome([Send(self.account.bundle.texts(code).get("language.saved")),
                                ShowMenu(code)])
        return moved_on(texts)
