"""The emergency-number line of the urgent-care message, for the user's country."""

from __future__ import annotations

from back_care_guide.flow.texts import Texts
from back_care_guide.safety.emergency import EmergencyNumbers


def numbers_line(book: EmergencyNumbers, texts: Texts, country: str | None) -> str:
    """The user's country's numbers, or 112, 911 and 999 with where each applies, in the
    language of ``texts``."""
    if country and country in book:
        found = book.country(country)
        return texts.get("numbers.country", country=texts.country(found.code, found.name),
                         list=", ".join(found.numbers))
    items = [texts.get("numbers.default_item", number=d.number, where=texts.get(d.where))
             for d in book.defaults()]
    return texts.get("numbers.unknown", list="; ".join(items))
