"""``/export``: a copy of everything stored about the person, as a JSON file."""

from __future__ import annotations

from typing import ClassVar

from back_care_guide.account.base import Feature, Outcome
from back_care_guide.engine.events import SendDocument
from back_care_guide.export import build_export
from back_care_guide.flow.texts import Texts
from back_care_guide.store.records import Conversation, Profile


class Export(Feature):
    commands: ClassVar[frozenset[str]] = frozenset({"export"})

    async def command(self, name: str, args: str, conv: Conversation, profile: Profile,
                      texts: Texts) -> Outcome:
        account = self.account
        export = await build_export(profile, account.store, account.bundle.triage, account.clock())
        return Outcome([SendDocument(export.filename, export.to_json(), texts.get("export.caption"))])
