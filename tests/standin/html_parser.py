"""Telegram's HTML parse mode, ported from TDLib's ``parse_html``.

Error texts and the byte offsets in them follow TDLib.  One deliberate
difference: TDLib copies an ``&`` that starts no known entity verbatim, while
Telegram's documentation requires escaping it; we reject it, so a bot that
passes here also honours the documented contract.
"""

from __future__ import annotations

from dataclasses import dataclass

from .entities import Entity, char_width, check_link
from .errors import ApiError, bad_request

_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler",
     "tg-emoji", "span", "pre", "code", "blockquote"}
)  # fmt: skip
_SIMPLE = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
    "del": "strikethrough", "tg-spoiler": "spoiler", "span": "spoiler",
}  # fmt: skip
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACES = " \t\r\n\v\f"


def _error(reason: str) -> ApiError:
    return bad_request(f"can't parse entities: {reason}")


@dataclass
class _Open:
    tag: str
    argument: str
    offset: int  # UTF-16 offset in the result


class _Html:
    def __init__(self, source: str) -> None:
        self.src = source
        self.n = len(source)

    def at(self, i: int) -> str:
        return self.src[i] if i < self.n else "\0"

    def byte_offset(self, i: int) -> int:
        return len(self.src[:i].encode("utf-8"))

    def entity(self, i: int) -> tuple[str, int] | None:
        """Decode an HTML entity at ``i``: (character, next index) or ``None``."""
        end = i + 1
        if self.at(end) == "#":
            end += 1
            base, digits = 10, "0123456789"
            if self.at(end) == "x":
                base, digits = 16, "0123456789abcdefABCDEF"
                end += 1
            start, value = end, 0
            while self.at(end) != "\0" and self.at(end) in digits:
                value = value * base + int(self.src[end], base)
                end += 1
                if value >= 0x10FFFF:
                    return None
            if end == start or value == 0 or 0xD800 <= value <= 0xDFFF:
                return None
            char = chr(value)
        else:
            while self.at(end).isascii() and self.at(end).isalpha():
                end += 1
            name = self.src[i + 1 : end]
            if name not in _NAMED:
                return None
            char = _NAMED[name]
        if self.at(end) == ";":
            end += 1
        return char, end

    def parse(self) -> tuple[str, list[Entity]]:
        out: list[str] = []
        entities: list[Entity] = []
        stack: list[_Open] = []
        utf16 = 0
        i = 0
        while i < self.n:
            c = self.src[i]
            if c == "&":
                decoded = self.entity(i)
                if decoded is None:
                    raise _error(f'Unescaped "&" at byte offset {self.byte_offset(i)}; write it as "&amp;"')
                out.append(decoded[0])
                utf16 += char_width(decoded[0])
                i = decoded[1]
                continue
            if c != "<":
                out.append(c)
                utf16 += char_width(c)
                i += 1
                continue
            if self.at(i + 1) != "/":
                i = self._start_tag(i, stack, utf16)
            else:
                i = self._end_tag(i, stack, entities, utf16, out)
        if stack:
            raise _error(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
        return "".join(out), entities

    def _start_tag(self, begin: int, stack: list[_Open], utf16: int) -> int:
        i = begin + 1
        while self.at(i) not in _SPACES and self.at(i) not in ">\0":
            i += 1
        if self.at(i) == "\0":
            raise _error(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
        tag = self.src[begin + 1 : i].lower()
        if tag not in _TAGS:
            raise _error(f'Unsupported start tag "{tag}" at byte offset {self.byte_offset(begin)}')
        argument = ""
        while self.at(i) != ">":
            while self.at(i) in _SPACES and self.at(i) != "\0":
                i += 1
            if self.at(i) == ">":
                break
            attr_begin = i
            while self.at(i) not in _SPACES and self.at(i) not in "=\0>":
                i += 1
            attr = self.src[attr_begin:i]
            if not attr:
                raise _error(
                    f'Empty attribute name in the tag "{tag}" at byte offset {self.byte_offset(begin)}'
                )
            while self.at(i) in _SPACES and self.at(i) != "\0":
                i += 1
            if self.at(i) != "=":
                if tag == "blockquote" and attr == "expandable":
                    argument = "expandable"
                    continue
                raise _error(
                    f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                    f"at byte offset {self.byte_offset(begin)}"
                )
            i += 1
            while self.at(i) in _SPACES and self.at(i) != "\0":
                i += 1
            if self.at(i) == "\0":
                raise _error(f'Unclosed start tag "{tag}" at byte offset {self.byte_offset(begin)}')
            value, i = self._attribute_value(i)
            if self.at(i) == "\0":
                raise _error(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
            if tag == "a" and attr == "href":
                argument = value
            elif tag == "code" and attr == "class" and value.startswith("language-"):
                argument = value.removeprefix("language-")
            elif tag == "span" and attr == "class" and value.startswith("tg-"):
                argument = value.removeprefix("tg-")
            elif tag == "tg-emoji" and attr == "emoji-id":
                argument = value
        if tag == "span" and argument != "spoiler":
            raise _error(f'Tag "span" must have class "tg-spoiler" at byte offset {self.byte_offset(begin)}')
        stack.append(_Open(tag, argument, utf16))
        return i + 1

    def _attribute_value(self, i: int) -> tuple[str, int]:
        quote = self.at(i)
        if quote not in "'\"":
            start = i
            while self.at(i).isascii() and (self.at(i).isalnum() or self.at(i) in ".-"):
                i += 1
            if self.at(i) not in _SPACES and self.at(i) != ">":
                raise _error(f"Unexpected end of name token at byte offset {self.byte_offset(start)}")
            return self.src[start:i].lower(), i
        i += 1
        chars: list[str] = []
        while self.at(i) != quote and self.at(i) != "\0":
            if self.at(i) == "&":
                decoded = self.entity(i)
                if decoded is not None:
                    chars.append(decoded[0])
                    i = decoded[1]
                    continue
            chars.append(self.src[i])
            i += 1
        if self.at(i) == quote:
            i += 1
        return "".join(chars), i

    def _end_tag(
        self, begin: int, stack: list[_Open], entities: list[Entity], utf16: int, out: list[str]
    ) -> int:
        if not stack:
            raise _error(f"Unexpected end tag at byte offset {self.byte_offset(begin)}")
        i = begin + 2
        while self.at(i) not in _SPACES and self.at(i) not in ">\0":
            i += 1
        name = self.src[begin + 2 : i].lower()
        while self.at(i) in _SPACES and self.at(i) != "\0":
            i += 1
        if self.at(i) != ">":
            raise _error(f"Unclosed end tag at byte offset {self.byte_offset(begin)}")
        top = stack.pop()
        if name and name != top.tag:
            raise _error(
                f'Unmatched end tag at byte offset {self.byte_offset(begin)}, expected "</{top.tag}>",'
                f' found "</{name}>"'
            )
        if utf16 > top.offset:
            self._close(top, entities, utf16 - top.offset, out)
        return i + 1

    @staticmethod
    def _close(top: _Open, entities: list[Entity], length: int, out: list[str]) -> None:
        offset = top.offset
        last = entities[-1] if entities else None
        same_span = last is not None and last.offset == offset and last.length == length
        if top.tag in _SIMPLE:
            entities.append(Entity(_SIMPLE[top.tag], offset, length))
        elif top.tag == "blockquote":
            kind = "expandable_blockquote" if top.argument == "expandable" else "blockquote"
            entities.append(Entity(kind, offset, length))
        elif top.tag == "a":
            url = top.argument or _tail_text(out, offset)
            checked = check_link(url)
            if checked is not None:
                entities.append(Entity("text_link", offset, length, url=checked))
        elif top.tag == "tg-emoji":
            if not top.argument.isdigit() or int(top.argument) == 0:
                raise _error("Invalid custom emoji identifier specified")
            entities.append(Entity("custom_emoji", offset, length, custom_emoji_id=top.argument))
        elif top.tag == "pre":
            if last is not None and same_span and last.type == "code":
                last.type = "pre"
            else:
                entities.append(Entity("pre", offset, length))
        elif top.tag == "code":
            if last is not None and same_span and last.type == "pre":
                last.language = top.argument or None
            else:
                entities.append(Entity("code", offset, length, language=top.argument or None))


def _tail_text(out: list[str], utf16_offset: int) -> str:
    """The result text from a UTF-16 offset on (the link text of ``<a>`` without href)."""
    text = "".join(out)
    units = 0
    for index, ch in enumerate(text):
        if units >= utf16_offset:
            return text[index:]
        units += char_width(ch)
    return ""


def parse_html(source: str) -> tuple[str, list[Entity]]:
    """Plain text and entities of an HTML-formatted text, or a 400 ApiError."""
    if "<" not in source and "&" not in source:
        return source, []
    text, entities = _Html(source).parse()
    for entity in entities:
        if entity.type == "code":
            entity.language = None  # a language only survives inside <pre>
    return text, entities
