"""Telegram's MarkdownV2 and legacy Markdown parse modes (ported from TDLib).

Error texts follow TDLib, e.g. ``Character '.' is reserved and must be escaped
with the preceding '\\'``.  MarkdownV2 supports bold, italic, underline,
strikethrough, spoiler, code, pre (with language), links, custom emoji and
``>`` block quotations.
"""

from __future__ import annotations

from dataclasses import dataclass

from .entities import Entity, char_width, check_link
from .errors import ApiError, bad_request

_RESERVED = "_*[]()~`>#+-=|{}.!"
_SPACES = " \t\r\n\v\f"
_TD_NAMES = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline",
    "strikethrough": "Strikethrough", "spoiler": "Spoiler", "code": "Code", "pre": "Pre",
    "pre_code": "PreCode", "text_link": "TextUrl", "custom_emoji": "CustomEmoji",
}  # fmt: skip


def _error(reason: str) -> ApiError:
    return bad_request(f"can't parse entities: {reason}")


def _reserved(ch: str) -> ApiError:
    return _error(f"Character '{ch}' is reserved and must be escaped with the preceding '\\'")


def _escapable(ch: str) -> bool:
    return "\0" < ch <= "~"


@dataclass
class _Open:
    kind: str  # entity type, or "pre_code" while a language is attached
    argument: str
    offset: int  # UTF-16 offset in the result
    byte_pos: int  # index in the source, reported as a byte offset
    result_pos: int  # index in the result list


class _MarkdownV2:
    def __init__(self, source: str) -> None:
        self.src = source
        self.n = len(source)
        self.out: list[str] = []
        self.utf16 = 0
        self.entities: list[Entity] = []
        self.stack: list[_Open] = []
        self.quote_start: int | None = None

    def at(self, i: int) -> str:
        return self.src[i] if 0 <= i < self.n else "\0"

    def byte_offset(self, i: int) -> int:
        return len(self.src[:i].encode("utf-8"))

    def emit(self, ch: str) -> None:
        self.out.append(ch)
        self.utf16 += char_width(ch)

    def parse(self) -> tuple[str, list[Entity]]:
        i = 0
        while i < self.n:
            c = self.src[i]
            if c == "\\" and _escapable(self.at(i + 1)):
                self.emit(self.src[i + 1])
                i += 2
                continue
            if c == "\n" and self.quote_start is not None and self.at(i + 1) != ">":
                self._close_quote()
            if c == ">" and (i == 0 or self.src[i - 1] == "\n") and not self.stack:
                if self.quote_start is None:
                    self.quote_start = self.utf16
                i += 1
                continue
            in_code = bool(self.stack) and self.stack[-1].kind in {"code", "pre", "pre_code"}
            reserved = "`" if in_code else _RESERVED
            if c not in reserved:
                self.emit(c)
                i += 1
                continue
            i = self._close(i) if self.stack and self._ends_top(i) else self._open(i)
        if self.stack:
            top = self.stack[-1]
            raise _error(
                f"Can't find end of {_TD_NAMES[top.kind]} entity at byte offset "
                f"{self.byte_offset(top.byte_pos)}"
            )
        if self.quote_start is not None:
            self._close_quote()
        return "".join(self.out), self.entities

    def _close_quote(self) -> None:
        assert self.quote_start is not None
        if self.utf16 > self.quote_start:
            self.entities.append(Entity("blockquote", self.quote_start, self.utf16 - self.quote_start))
        self.quote_start = None

    def _ends_top(self, i: int) -> bool:
        c, kind = self.src[i], self.stack[-1].kind
        if kind == "bold":
            return c == "*"
        if kind == "italic":
            return c == "_" and self.at(i + 1) != "_"
        if kind == "code":
            return c == "`"
        if kind in {"pre", "pre_code"}:
            return self.src[i : i + 3] == "```"
        if kind in {"text_link", "custom_emoji"}:
            return c == "]"
        if kind == "underline":
            return self.src[i : i + 2] == "__"
        if kind == "strikethrough":
            return c == "~"
        return self.src[i : i + 2] == "||"  # spoiler

    def _open(self, i: int) -> int:
        c, begin, argument = self.src[i], i, ""
        if c == "_":
            kind = "underline" if self.at(i + 1) == "_" else "italic"
            i += 2 if kind == "underline" else 1
        elif c == "*":
            kind, i = "bold", i + 1
        elif c == "~":
            kind, i = "strikethrough", i + 1
        elif c == "|" and self.at(i + 1) == "|":
            kind, i = "spoiler", i + 2
        elif c == "[":
            kind, i = "text_link", i + 1
        elif c == "!" and self.at(i + 1) == "[":
            kind, i = "custom_emoji", i + 2
        elif c == "`" and self.src[i : i + 3] == "```":
            kind, i = "pre", i + 3
            end = i
            while self.at(end) not in _SPACES and self.at(end) not in "`\0":
                end += 1
            if end != i and end < self.n and self.src[end] != "`":
                kind, argument, i = "pre_code", self.src[i:end], end
            if self.at(i) in "\r\n":
                pair = self.at(i + 1) in "\r\n" and self.at(i + 1) != self.at(i)
                i += 2 if pair else 1
        elif c == "`":
            kind, i = "code", i + 1
        else:
            raise _reserved(c)
        self.stack.append(_Open(kind, argument, self.utf16, begin, len(self.out)))
        return i

    def _close(self, i: int) -> int:
        top = self.stack.pop()
        length = self.utf16 - top.offset
        kind, argument = top.kind, top.argument
        skip = length == 0
        url: str | None = None
        if kind in {"underline", "spoiler"}:
            i += 2
        elif kind in {"pre", "pre_code"}:
            i += 3
        elif kind in {"text_link", "custom_emoji"}:
            target, i = self._link_target(i, top)
            if kind == "text_link":
                url = check_link(target)
                skip = skip or url is None
            else:
                prefix = "tg://emoji?id="
                emoji_id = target.removeprefix(prefix)
                if not target.startswith(prefix) or not emoji_id.isdigit():
                    raise _error("Custom emoji entity must contain a tg://emoji URL")
                argument = emoji_id
        else:
            i += 1
        if not skip:
            if kind == "pre_code":
                self.entities.append(Entity("pre", top.offset, length, language=argument))
            elif kind == "text_link":
                self.entities.append(Entity("text_link", top.offset, length, url=url))
            elif kind == "custom_emoji":
                self.entities.append(Entity("custom_emoji", top.offset, length, custom_emoji_id=argument))
            else:
                self.entities.append(Entity(kind, top.offset, length))
        return i

    def _link_target(self, i: int, top: _Open) -> tuple[str, int]:
        """Parse ``](url)`` at ``i``; without ``(`` the link text is the URL."""
        if self.at(i + 1) != "(":
            return "".join(self.out[top.result_pos :]), i + 1
        i += 2
        url_begin = i
        chars: list[str] = []
        while i < self.n and self.src[i] != ")":
            if self.src[i] == "\\" and _escapable(self.at(i + 1)):
                chars.append(self.src[i + 1])
                i += 2
                continue
            chars.append(self.src[i])
            i += 1
        if self.at(i) != ")":
            raise _error(f"Can't find end of a URL at byte offset {self.byte_offset(url_begin)}")
        return "".join(chars), i + 1


def parse_markdown_v2(source: str) -> tuple[str, list[Entity]]:
    """Plain text and entities of a MarkdownV2 text, or a 400 ApiError."""
    if not any(ch in _RESERVED or ch == "\\" for ch in source):
        return source, []
    return _MarkdownV2(source).parse()


def parse_markdown_legacy(source: str) -> tuple[str, list[Entity]]:
    """The legacy ``Markdown`` mode: ``*bold*``, ``_italic_``, code, pre and links."""
    out: list[str] = []
    entities: list[Entity] = []
    utf16, i, n = 0, 0, len(source)

    def at(k: int) -> str:
        return source[k] if k < n else "\0"

    while i < n:
        c = source[i]
        if c == "\\" and at(i + 1) in "_*`[":
            out.append(at(i + 1))
            utf16 += 1
            i += 2
            continue
        if c not in "_*`[":
            out.append(c)
            utf16 += char_width(c)
            i += 1
            continue
        begin, end_char, is_pre, language = i, "]" if c == "[" else c, False, ""
        i += 1
        if c == "`" and source[i : i + 2] == "``":
            i += 2
            is_pre = True
            end = i
            while at(end) not in _SPACES and at(end) not in "`\0":
                end += 1
            if end != i and end < n and source[end] != "`":
                language, i = source[i:end], end
            if at(i) in "\r\n":
                i += 2 if at(i + 1) in "\r\n" and at(i + 1) != at(i) else 1
        start_offset, start_index = utf16, len(out)
        while i < n and (source[i] != end_char or (is_pre and source[i : i + 3] != "```")):
            out.append(source[i])
            utf16 += char_width(source[i])
            i += 1
        if i >= n:
            offset = len(source[:begin].encode("utf-8"))
            raise _error(f"Can't find end of the entity starting at byte offset {offset}")
        length = utf16 - start_offset
        if c == "[":
            url = "".join(out[start_index:])
            if at(i + 1) == "(":
                close = source.find(")", i + 2)
                close = n if close < 0 else close
                url, i = source[i + 2 : close], close
            checked = check_link(url)
            if length and checked is not None:
                entities.append(Entity("text_link", start_offset, length, url=checked))
        elif length:
            kind = {"_": "italic", "*": "bold"}.get(c, "pre" if is_pre else "code")
            entities.append(Entity(kind, start_offset, length, language=language or None))
        i += 3 if is_pre else 1
    return "".join(out), entities
