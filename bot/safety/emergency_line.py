"""The emergency-number line of the urgent-care message, for the user's country."""

from __future__ import annotations

from collections.abc import Callable

from bot.flow.texts import Texts
from bot.safety.emergency import EmergencyNumbers


def numbers_line_for(book: EmergencyNumbers) -> Callable[[Texts, str | None], str]:
    """A ``numbers_line(texts, country)`` function for the engine, backed by ``book``."""

    def numbers_line(texts: Texts, country: str | None) -> str:
        if country and country in book:
            found = book.country(country)
            return texts.get("numbers.country", country=found.name, list=", ".join(found.numbers))
        items = [texts.get("numbers.default_item", number=d.number, where=d.where)
                 for d in book.defaults()]
        return texts.get("numbers.unknown", list="; ".join(items))

    return numbers_line
