"""Validation of ``reply_markup`` the way the Bot API checks it.

One deliberate tightening: Telegram silently uses the first action field of an
inline button that has several; we reject such a button because the bot's
intent is ambiguous.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .errors import ApiError, bad_request

JSONDict = dict[str, Any]

BUTTON_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)  # fmt: skip
MAX_BUTTONS = 100
MAX_CALLBACK_DATA_BYTES = 64


def _button_error(reason: str) -> ApiError:
    return bad_request(f"can't parse inline keyboard button: {reason}")


def _valid_button_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if scheme == "tg":
        return bool(parts.netloc or parts.path)
    return scheme in {"http", "https"} and bool(parts.hostname) and " " not in url


def _inline_button(button: Any) -> JSONDict:
    if not isinstance(button, dict):
        raise _button_error("InlineKeyboardButton must be an Object")
    if "text" not in button:
        raise _button_error('Can\'t find field "text"')
    text = button["text"]
    if not isinstance(text, str):
        raise _button_error('Field "text" must be of type String')
    if not text.strip():
        raise bad_request("BUTTON_TEXT_INVALID")
    actions = [name for name in BUTTON_ACTIONS if name in button]
    if not actions:
        raise _button_error("Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        found = ", ".join(f'"{name}"' for name in actions)
        raise _button_error(f"exactly one of the optional fields must be used, found {found}")
    action = actions[0]
    value = button[action]
    if action == "callback_data":
        if not isinstance(value, str):
            raise _button_error('Field "callback_data" must be of type String')
        size = len(value.encode("utf-8"))
        if size == 0 or size > MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    elif action == "url":
        if not isinstance(value, str):
            raise _button_error('Field "url" must be of type String')
        if not _valid_button_url(value):
            raise bad_request(f"inline keyboard button URL '{value}' is invalid: Wrong HTTP URL")
    elif action in {"web_app", "login_url", "switch_inline_query_chosen_chat", "copy_text"}:
        if not isinstance(value, dict):
            raise _button_error(f'Field "{action}" must be of type Object')
    elif action.startswith("switch_inline_query") and not isinstance(value, str):
        raise _button_error(f'Field "{action}" must be of type String')
    return {"text": text, action: value}


def _rows(markup: JSONDict, field: str, kind: str) -> list[list[Any]]:
    rows = markup[field]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(f'field "{field}" of the {kind} must be an Array of Arrays')
    return rows


def _reply_button(button: Any) -> JSONDict:
    if isinstance(button, str):
        button = {"text": button}
    if not isinstance(button, dict):
        raise bad_request("can't parse keyboard button: KeyboardButton must be a String or an Object")
    text = button.get("text")
    if not isinstance(text, str):
        raise bad_request('can\'t parse keyboard button: Field "text" must be of type String')
    if not text:
        raise bad_request("can't parse keyboard button: Text must be non-empty")
    return dict(button)


def validate_reply_markup(raw: Any, *, inline_only: bool) -> JSONDict | None:
    """Validate a decoded ``reply_markup``.

    Returns the inline keyboard to echo in Message objects (``None`` for reply
    keyboards, keyboard removal and force reply, which Telegram does not echo).
    """
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise bad_request("object expected as reply markup")
    if "inline_keyboard" in raw:
        rows = _rows(raw, "inline_keyboard", "InlineKeyboardMarkup")
        checked = [[_inline_button(button) for button in row] for row in rows]
        if sum(len(row) for row in checked) > MAX_BUTTONS:
            raise bad_request("reply markup is too long")
        return {"inline_keyboard": [row for row in checked if row]}
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in raw:
        rows = _rows(raw, "keyboard", "ReplyKeyboardMarkup")
        buttons = [[_reply_button(button) for button in row] for row in rows]
        if sum(len(row) for row in buttons) > 300:
            raise bad_request("reply markup is too long")
        return None
    if "remove_keyboard" in raw:
        if raw["remove_keyboard"] is not True:
            raise bad_request('field "remove_keyboard" of the ReplyKeyboardRemove must be true')
        return None
    if "force_reply" in raw:
        if raw["force_reply"] is not True:
            raise bad_request('field "force_reply" of the ForceReply must be true')
        return None
    raise bad_request("can't parse reply keyboard markup JSON object")


def iter_buttons(markup: JSONDict | None) -> list[JSONDict]:
    """All inline buttons of an echoed markup, row by row."""
    if not markup:
        return []
    return [button for row in markup.get("inline_keyboard", []) for button in row]
