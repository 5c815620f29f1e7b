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


# Texts the engine itself uses (not referenced from a flow file).
ENGINE_KEYS = (
    "btn.stop",
    "btn.warning",
    "answer.chosen",
    "numbers.country",
    "numbers.unknown",
    "numbers.default_item",
    "sign.unknown",
    "triage.none",
    "triage.mistap_ask",
    "triage.cleared_before",
    "btn.mistap",
    "when.today",
    "when.tomorrow",
    "when.later",
    "when.reported_today",
    "when.reported_yesterday",
    "when.reported_on",
    "system.use_buttons",
    "system.moved_on",
    "system.no_session",
    "system.unknown_command",
    "replies.yes",
    "replies.no",
    "replies.numbers",
    "resume.where",
    "resume.holding",
    "system.not_text",
    "system.slow_down",
    "system.store_down",
    "system.too_long",
    "system.group",
    "system.error",
    "system.session_over",
    "help.text",
    "country.ask",
    "country.saved",
    "country.unknown",
    "commands.country",
    "commands.start",
    "commands.stop",
    "commands.redflags",
    "commands.help",
)
