"""Typed access to Bot API call parameters, whatever way the client sent them.

Telegram accepts a query string, ``application/x-www-form-urlencoded``,
``multipart/form-data`` and ``application/json``.  In the first three every value
is a string (PTB JSON-encodes dicts and lists); in a JSON body values may be
native.  The accessors below accept both, the same way the real server does.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, bad_request

_TRUE_WORDS = frozenset({"true", "1"})


@dataclass(frozen=True)
class UploadedFile:
    """One file part of a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes


class Params:
    """Parameters of one call plus the uploaded files of a multipart request."""

    def __init__(self, values: dict[str, Any], files: dict[str, UploadedFile] | None = None) -> None:
        self._values = values
        self.files: dict[str, UploadedFile] = files or {}

    def __contains__(self, name: str) -> bool:
        return self.raw(name) is not None

    def names(self) -> list[str]:
        return list(self._values) + list(self.files)

    def raw(self, name: str) -> Any:
        value = self._values.get(name)
        if value is None or value == "":
            return None
        return value

    def str_opt(self, name: str) -> str | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, str):
            return value
        raise bad_request(f'field "{name}" must be of type String')

    def text_opt(self, name: str) -> str | None:
        """Like :meth:`str_opt` but keeps an empty string (texts distinguish it)."""
        value = self._values.get(name)
        if value == "":
            return ""
        return self.str_opt(name)

    def str_req(self, name: str, missing: str | None = None) -> str:
        value = self.str_opt(name)
        if value is None:
            raise bad_request(missing or f'parameter "{name}" is required')
        return value

    def int_opt(self, name: str) -> int | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool):
            raise bad_request(f'field "{name}" must be a valid Number')
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise bad_request(f'field "{name}" must be a valid Number')

    def int_req(self, name: str, missing: str | None = None) -> int:
        value = self.int_opt(name)
        if value is None:
            raise bad_request(missing or f'parameter "{name}" is required')
        return value

    def float_opt(self, name: str) -> float | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool):
            raise bad_request(f'field "{name}" must be a valid Number')
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise bad_request(f'field "{name}" must be a valid Number') from None
        if not math.isfinite(number):
            raise bad_request(f'field "{name}" must be a valid Number')
        return number

    def bool_opt(self, name: str, default: bool = False) -> bool:
        """Telegram treats only ``true``/``1`` (any case) as true."""
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value == 1
        return str(value).strip().lower() in _TRUE_WORDS

    def json_opt(self, name: str, what: str | None = None) -> Any:
        """A JSON-typed parameter (object or array), decoded."""
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {what or name} JSON object") from None
        return value

    def chat_id(self, name: str = "chat_id") -> int | str:
        """An integer chat id or an ``@username``; anything else is an unknown chat."""
        value = self.raw(name)
        if value is None:
            raise bad_request(f"{name} is empty")
        if isinstance(value, bool):
            raise bad_request("chat not found")
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if text.startswith("@"):
            return text
        try:
            return int(text)
        except ValueError:
            raise bad_request("chat not found") from None

    def file(self, name: str) -> UploadedFile | None:
        """An upload sent directly as part ``name`` or referenced as ``attach://part``."""
        if name in self.files:
            return self.files[name]
        value = self.raw(name)
        if isinstance(value, str) and value.startswith("attach://"):
            part = value.removeprefix("attach://")
            if part not in self.files:
                raise bad_request(f'file "{part}" referenced by attach:// is not in the request')
            return self.files[part]
        return None


def require(condition: bool, error: ApiError) -> None:
    if not condition:
        raise error
