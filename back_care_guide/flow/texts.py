"""Locale catalogs: user-facing texts by dotted key, one catalog per language.

Numbers, dates and plural forms follow the language's CLDR rules through Babel, so a
Spanish person reads "+1,5" and "1 día", never "+1.5" or "1 días".
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from babel import Locale
from babel.dates import format_skeleton, get_timezone_location
from babel.numbers import format_decimal

# The placeholders the engine knows how to fill.
PLACEHOLDERS = frozenset({
    "seconds", "sign", "sign_cap", "reported", "when", "date", "numbers", "country", "list",
    "number", "where", "label", "time", "zone", "completed", "change", "streak", "count",
})

#: The categories a plural text may have (CLDR); every language needs ``other``.
PLURAL_CATEGORIES = frozenset({"zero", "one", "two", "few", "many", "other"})

#: How a signed change with one decimal is written, in the language's own symbols.
SIGNED_ONE_DECIMAL = "+#,##0.0;-#,##0.0"


@dataclass(frozen=True)
class Texts:
    """One language's texts. ``plurals`` holds the texts that depend on a number: a form per
    CLDR plural category of the language (``one``, ``many``, ``other``...)."""

    language: str
    entries: Mapping[str, str]
    plurals: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __contains__(self, key: object) -> bool:
        return key in self.entries or key in self.plurals

    def keys(self) -> set[str]:
        return {*self.entries, *self.plurals}

    def variants(self) -> Iterator[tuple[tuple[str, ...], str]]:
        """Every text with its path in the locale file (a plural text once per form)."""
        for key, text in self.entries.items():
            yield ("texts", *key.split(".")), text
        for key, forms in self.plurals.items():
            for category, text in forms.items():
                yield ("texts", *key.split("."), category), text

    def get(self, key: str, **params: object) -> str:
        text = self.entries[key]
        return text.format_map(params) if params else text

    def plural(self, key: str, count: int, **params: object) -> str:
        """The form of ``key`` for ``count`` (filled in as ``{count}``, written the
        language's way)."""
        forms = self.plurals[key]
        text = forms.get(self.locale.plural_form(count), forms["other"])
        return text.format_map({**params, "count": self.number(count)})

    @cached_property
    def locale(self) -> Locale:
        return Locale.parse(self.language)

    def number(self, value: float, *, signed: bool = False) -> str:
        """``value`` with the language's separators; ``signed``: one decimal and a sign."""
        return format_decimal(value, format=SIGNED_ONE_DECIMAL if signed else None,
                              locale=self.locale)

    def day(self, value: date, *, short: bool = False) -> str:
        """A day of the year, without the year: "29 de noviembre", "29. Nov."."""
        return format_skeleton("MMMd" if short else "MMMMd", value, locale=self.locale)

    def country(self, code: str, fallback: str) -> str:
        """The name of the country with ISO code ``code`` in this language."""
        name: str = self.locale.territories.get(code.upper(), fallback)
        return name

    def city(self, zone: str) -> str:
        """The city a time zone is named after, in this language: "Nueva York"."""
        return get_timezone_location(zone, locale=self.locale, return_city=True)

    def language_name(self) -> str:
        """The language's own name for itself, as a button shows it: "Español"."""
        name = self.locale.get_display_name(self.locale) or self.language
        return name[:1].upper() + name[1:]


def plural_forms(language: str) -> frozenset[str]:
    """The plural categories a text of ``language`` must have (``other`` included)."""
    return Locale.parse(language).plural_form.tags | {"other"}


def is_plural(value: object) -> bool:
    """A locale mapping that is one text's plural forms rather than a section of texts."""
    return (isinstance(value, Mapping) and "other" in value
            and set(value) <= PLURAL_CATEGORIES and all(isinstance(v, str) for v in value.values()))


def flatten(tree: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    """``{"a": {"b": "x"}}`` → ``{"a.b": "x"}``; leaves are kept as they are for validation,
    and so are plural forms (``{"one": ..., "other": ...}``)."""
    flat: dict[str, object] = {}
    for key, value in tree.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping) and not is_plural(value):
            flat.update(flatten(value, full + "."))
        else:
            flat[full] = value
    return flat


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


#: The longest text a locale may hold, before its placeholders are filled: a person reads it
#: on a phone, often lying on the floor (tests/test_messages.py checks the filled texts too).
MAX_TEXT_CHARS = 400
