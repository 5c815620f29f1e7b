"""Formatted text: plain text plus MessageEntity list, offsets in UTF-16 code units."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .errors import bad_request

JSONDict = dict[str, Any]

ENTITY_TYPES = frozenset(
    {
        "mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number",
        "bold", "italic", "underline", "strikethrough", "spoiler", "blockquote",
        "expandable_blockquote", "code", "pre", "text_link", "text_mention", "custom_emoji",
    }
)  # fmt: skip
_TRIMMED = " \t\r\n"
_LINK_SCHEMES = frozenset({"http", "https", "tg", "ton"})


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of every Telegram entity offset."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def char_width(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


@dataclass
class Entity:
    type: str
    offset: int
    length: int
    url: str | None = None
    language: str | None = None
    user: JSONDict | None = None
    custom_emoji_id: str | None = None

    def to_json(self) -> JSONDict:
        data: JSONDict = {"type": self.type, "offset": self.offset, "length": self.length}
        if self.url is not None:
            data["url"] = self.url
        if self.language:
            data["language"] = self.language
        if self.user is not None:
            data["user"] = self.user
        if self.custom_emoji_id is not None:
            data["custom_emoji_id"] = self.custom_emoji_id
        return data


@dataclass
class FormattedText:
    text: str
    entities: list[Entity] = field(default_factory=list)

    def entities_json(self) -> list[JSONDict]:
        return [entity.to_json() for entity in self.entities]


def check_link(url: str) -> str | None:
    """A normalised link URL, or ``None`` when Telegram would silently drop the link."""
    url = url.strip()
    if not url:
        return None
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in _LINK_SCHEMES or not parts.netloc:
        return None
    if parts.scheme.lower() in {"http", "https"}:
        host = parts.hostname or ""
        if not host or " " in host or (host.count(".") == 0 and host != "localhost"):
            return None
        if not parts.path and not parts.query and not parts.fragment:
            url += "/"
    return url


def link_user_id(url: str) -> int | None:
    """The user id of a ``tg://user?id=N`` link."""
    prefix = "tg://user?id="
    if url.lower().startswith(prefix):
        tail = url[len(prefix) :]
        if tail.isdigit():
            return int(tail)
    return None


def finish(text: str, entities: list[Entity], lookup_user: Callable[[int], JSONDict | None]) -> FormattedText:
    """Telegram's post-processing: mentions resolved, text trimmed, entities clipped/sorted."""
    resolved: list[Entity] = []
    for entity in entities:
        if entity.type == "text_link" and entity.url is not None:
            user_id = link_user_id(entity.url)
            if user_id is not None:
                user = lookup_user(user_id)
                if user is None:
                    continue
                entity = Entity("text_mention", entity.offset, entity.length, user=user)
        resolved.append(entity)
    lead = len(text) - len(text.lstrip(_TRIMMED))
    trimmed = text.strip(_TRIMMED)
    total = utf16_len(trimmed)
    kept: list[Entity] = []
    for entity in resolved:
        start = max(entity.offset - lead, 0)
        end = min(entity.offset + entity.length - lead, total)
        if end > start:
            entity.offset, entity.length = start, end - start
            kept.append(entity)
    kept.sort(key=lambda e: (e.offset, -e.length))
    return FormattedText(trimmed, kept)


def parse_explicit_entities(raw: Any, text: str, what: str = "entities") -> list[Entity]:
    """Validate an ``entities``/``caption_entities`` parameter against ``text``."""
    if not isinstance(raw, list):
        raise bad_request(f"can't parse {what} JSON object")
    total = utf16_len(text)
    result: list[Entity] = []
    for item in raw:
        if not isinstance(item, dict):
            raise bad_request(f"can't parse {what}: MessageEntity must be an Object")
        kind, offset, length = item.get("type"), item.get("offset"), item.get("length")
        if not isinstance(kind, str) or kind not in ENTITY_TYPES:
            raise bad_request(f"can't parse {what}: unsupported entity type {kind!r}")
        if not isinstance(offset, int) or not isinstance(length, int):
            raise bad_request(f'can\'t parse {what}: field "offset"/"length" must be a Number')
        if offset < 0 or length <= 0 or offset + length > total:
            raise bad_request(f"can't parse {what}: entity is out of the text bounds")
        url = item.get("url")
        if kind == "text_link":
            url = check_link(str(url or ""))
            if url is None:
                raise bad_request(f"can't parse {what}: wrong URL of a text link entity")
        language = item.get("language")
        user = item.get("user")
        if kind == "text_mention" and not isinstance(user, dict):
            raise bad_request(f"can't parse {what}: user is required for a text_mention")
        emoji = item.get("custom_emoji_id")
        result.append(
            Entity(
                kind, offset, length,
                url=url if kind == "text_link" else None,
                language=str(language) if kind == "pre" and language else None,
                user=user if kind == "text_mention" else None,
                custom_emoji_id=str(emoji) if kind == "custom_emoji" else None,
            )
        )  # fmt: skip
    return result
