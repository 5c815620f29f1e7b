"""Telegram rendering: escaping survives a strict HTML parser, long texts split, payloads fit."""

from __future__ import annotations

import pytest

from back_care_guide.engine.events import Button
from back_care_guide.flow.loader import FlowBundle
from back_care_guide.telegram.callback import MAX_BYTES, decode, encode
from back_care_guide.telegram.render import MAX_TEXT, escape, keyboard, split_text, text_length
from tests.standin.html_parser import parse_html


@pytest.mark.parametrize("text", ["a < b & c > d", "*bold?* _x_ [link](y) 1.5 <b>not a tag</b>",
                                  "&amp; is not an entity here", "AT&T <3"])
def test_escaped_text_parses_back_to_itself(text: str) -> None:
    plain, entities = parse_html(escape(text))
    assert plain == text and entities == []


def test_every_locale_text_survives_html_parsing(bundle: FlowBundle) -> None:
    for loaded in bundle.locales.values():
        for path, text in loaded.texts.variants():
            plain, _ = parse_html(escape(text))
            assert plain == text, path


def test_long_text_splits_on_paragraphs() -> None:
    paragraphs = [("word " * 300).strip() for _ in range(10)]
    parts = split_text("\n\n".join(paragraphs))
    assert all(text_length(p) <= MAX_TEXT for p in parts)
    assert "\n\n".join(parts) == "\n\n".join(paragraphs)
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in parts)


def test_a_single_huge_paragraph_and_emoji_still_fit() -> None:
    for text in ("x" * 10_000, "🙂" * 3000, ("word " * 2000).strip()):
        parts = split_text(text)
        assert len(parts) > 1 and all(text_length(p) <= MAX_TEXT for p in parts)


def test_callback_data_is_short_and_versioned() -> None:
    data = encode(123_456_789, "x" * 24)
    assert len(data.encode()) <= MAX_BYTES
    assert decode(data) is not None and decode(data).choice == "x" * 24  # type: ignore[union-attr]
    for garbage in (None, "", "v0|1|yes", "v1|x|yes", "v1|1|", "v1|1", "hello"):
        assert decode(garbage) is None


def test_keyboard_pairs_short_labels() -> None:
    markup = keyboard((Button("yes", "Yes"), Button("no", "No")), 3)
    assert markup is not None and len(markup.inline_keyboard) == 1
    markup = keyboard((Button("go", "I'm in position"), Button("stop", "Stop"),
                       Button("warning", "Warning sign")), 4)
    assert markup is not None
    assert [len(row) for row in markup.inline_keyboard] == [1, 2]


def test_a_rating_scale_fits_in_two_rows() -> None:
    markup = keyboard(tuple(Button(f"r{n}", str(n)) for n in range(11)), 5)
    assert markup is not None and [len(r) for r in markup.inline_keyboard] == [6, 5]
