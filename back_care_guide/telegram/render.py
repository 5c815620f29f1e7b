"""Turning engine messages into Telegram messages: HTML escaping, length limits, keyboards."""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from back_care_guide.engine.events import Button
from back_care_guide.telegram.callback import encode

MAX_TEXT = 4096  # Telegram's limit, counted after entity parsing
SHORT_LABEL = 14  # labels up to this length share a row with a neighbour
NUMBER_ROW = 6  # a 0-10 scale: two rows of number buttons


def escape(text: str) -> str:
    """Flow texts are plain text; with parse_mode HTML only <, > and & need escaping."""
    return html.escape(text, quote=False)


def text_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units), so emoji count double."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split on paragraph boundaries (then lines, then words) so no part exceeds ``limit``.

    The limit applies to the plain text, which is what Telegram counts once the HTML
    entities are parsed.
    """
    if text_length(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        for chunk in _hard_split(paragraph, limit):
            candidate = f"{current}\n\n{chunk}" if current else chunk
            if text_length(candidate) <= limit:
                current = candidate
            else:
                if current:
                    parts.append(current)
                current = chunk
    if current:
        parts.append(current)
    return parts


def _hard_split(piece: str, limit: int) -> list[str]:
    """A single paragraph longer than the limit is cut at line, then word boundaries."""
    chunks: list[str] = []
    rest = piece
    while text_length(rest) > limit:
        window = limit
        while text_length(rest[:window]) > limit:  # surrogate pairs make UTF-16 longer
            window -= 1
        cut = rest.rfind("\n", 0, window)
        if cut <= 0:
            cut = rest.rfind(" ", 0, window)
        if cut <= 0:
            cut = window
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


def keyboard(buttons: tuple[Button, ...], seq: int) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    if all(b.label.isdigit() for b in buttons):
        keys = [InlineKeyboardButton(b.label, callback_data=encode(seq, b.choice)) for b in buttons]
        return InlineKeyboardMarkup([keys[i:i + NUMBER_ROW] for i in range(0, len(keys), NUMBER_ROW)])
    rows: list[list[InlineKeyboardButton]] = []
    for button in buttons:
        key = InlineKeyboardButton(button.label, callback_data=encode(seq, button.choice))
        last = rows[-1] if rows else None
        if (last is not None and len(last) == 1 and len(button.label) <= SHORT_LABEL
                and len(last[0].text) <= SHORT_LABEL):
            last.append(key)
        else:
            rows.append([key])
    return InlineKeyboardMarkup(rows)
