"""Typed answers where buttons are offered: "nope", "4/10", "four", "longer please".

People on the floor type what is quickest. The words come from the locale (``replies.*``),
so every language brings its own. Typed text reaches this only after triage found
nothing safety-relevant in it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from back_care_guide.flow.texts import Texts

_PUNCTUATION = re.compile(r"[^\w\s/']+")
_SCORE = re.compile(r"^(\d{1,2})(?:\s*(?:/|out of|of)\s*10)?$")
MIN_KEYWORD = 4  # letters a typed word needs to stand for a button's word


@dataclass(frozen=True, slots=True)
class Option:
    choice: str  # the choice id
    label: str  # the button's text
    keywords: bool = True  # whether a key word of the label may pick it ("longer")


def _clean(text: str) -> str:
    return " ".join(_PUNCTUATION.sub(" ", text.casefold()).split())


def _forms(texts: Texts, key: str) -> tuple[str, ...]:
    return tuple(_clean(form) for form in texts.get(key).split(",") if form.strip())


def _starts_with(text: str, forms: Sequence[str]) -> bool:
    return any(text == form or text.startswith(form + " ") for form in forms)


def read_choice(text: str, options: Sequence[Option], texts: Texts) -> str | None:
    """The choice a typed answer stands for, or None when it is not clear."""
    typed = _clean(text)
    if not typed:
        return None
    for option in options:
        if _clean(option.label) == typed:
            return option.choice
    for key in ("replies.yes", "replies.no"):  # "nope" picks the one button that says no
        forms = _forms(texts, key)
        if _starts_with(typed, forms):
            matching = [o for o in options if _starts_with(_clean(o.label), forms)]
            return matching[0].choice if len(matching) == 1 else None
    words = [w for w in typed.split() if len(w) >= MIN_KEYWORD]
    found = {option.choice for option in options if option.keywords for word in words
             for label_word in _clean(option.label).split() if len(label_word) >= MIN_KEYWORD
             and (label_word.startswith(word) or word.startswith(label_word))}
    return found.pop() if len(found) == 1 else None


def read_rating(text: str, texts: Texts, low: int, high: int) -> int | None:
    """A point on the scale: "4", "4/10", "4 out of 10", "four"."""
    typed = _clean(text)
    match = _SCORE.match(typed)
    if match is not None:
        value = int(match.group(1))
    else:
        words = _forms(texts, "replies.numbers")
        if typed not in words:
            return None
        value = words.index(typed)
    return value if low <= value <= high else None


__all__ = ["Option", "read_choice", "read_rating"]
