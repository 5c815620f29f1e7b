"""Locale catalogs: user-facing texts by dotted key, one catalog per language."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

# The placeholders the engine knows how to fill.
PLACEHOLDERS = frozenset({
    "seconds", "sign", "sign_cap", "reported", "when", "date", "numbers", "country", "list",
    "number", "where", "label", "time", "zone", "completed", "change", "streak", "day", "month",
    "month_number",
})


@dataclass(frozen=True)
class Texts:
    language: str
    entries: Mapping[str, str]

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def get(self, key: str, **params: object) -> str:
        text = self.entries[key]
        return text.format_map(params) if params else text


def flatten(tree: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    """``{"a": {"b": "x"}}`` → ``{"a.b": "x"}``; leaves are kept as they are for validation."""
    flat: dict[str, object] = {}
    for key, value in tree.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, full + "."))
        else:
            flat[full] = value
    return flat


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


#: The longest text a locale may hold, before its placeholders are filled: a person reads it
#: on a phone, often lying on the floor (tests/test_messages.py checks the filled texts too).
MAX_TEXT_CHARS = 400
