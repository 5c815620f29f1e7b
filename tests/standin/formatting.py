"""Turn a (text, parse_mode, entities) triple into Telegram's formatted text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .entities import FormattedText, finish, parse_explicit_entities
from .errors import bad_request
from .html_parser import parse_html
from .markdown_parser import parse_markdown_legacy, parse_markdown_v2

JSONDict = dict[str, Any]
UserLookup = Callable[[int], JSONDict | None]

_PARSERS = {"html": parse_html, "markdownv2": parse_markdown_v2, "markdown": parse_markdown_legacy}


def format_text(
    text: str,
    parse_mode: str | None,
    explicit_entities: Any,
    lookup_user: UserLookup,
    what: str = "entities",
) -> FormattedText:
    """Parse ``text`` like Telegram: explicit entities win over ``parse_mode``.

    Raises a 400 ApiError for an unknown parse mode or malformed markup.
    """
    if explicit_entities is not None:
        entities = parse_explicit_entities(explicit_entities, text, what)
        return finish(text, entities, lookup_user)
    if parse_mode is None:
        return finish(text, [], lookup_user)
    parser = _PARSERS.get(parse_mode.lower())
    if parser is None:
        raise bad_request("unsupported parse_mode")
    plain, entities = parser(text)
    return finish(plain, entities, lookup_user)
