"""Bot API methods that create, change or remove messages, and their companions."""

from __future__ import annotations

import time
from typing import Any

from .core import StandinCore
from .entities import FormattedText
from .errors import bad_request
from .formatting import format_text
from .markup import validate_reply_markup
from .media import check_document, check_photo, scaled
from .models import ChatInfo, StoredMessage
from .params import Params
from .registry import method

JSONDict = dict[str, Any]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_TEXT = 200
CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)  # fmt: skip
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)


def _text(core: StandinCore, p: Params) -> FormattedText:
    raw = p.text_opt("text")
    if not raw:
        raise bad_request("message text is empty")
    formatted = format_text(raw, p.str_opt("parse_mode"), p.json_opt("entities"), core.lookup_user)
    if not formatted.text:
        raise bad_request("text must be non-empty")
    if len(formatted.text) > MAX_TEXT:
        raise bad_request("message is too long")
    return formatted


def _caption(core: StandinCore, p: Params) -> FormattedText | None:
    raw = p.text_opt("caption")
    if not raw:
        return None
    formatted = format_text(
        raw, p.str_opt("parse_mode"), p.json_opt("caption_entities"), core.lookup_user,
        "caption_entities",
    )  # fmt: skip
    if len(formatted.text) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    return formatted


def _markup(p: Params, inline_only: bool) -> JSONDict | None:
    raw = p.json_opt("reply_markup", "reply keyboard markup")
    return validate_reply_markup(raw, inline_only=inline_only)


def _reply_to(core: StandinCore, chat: ChatInfo, p: Params) -> JSONDict | None:
    params = p.json_opt("reply_parameters", "reply parameters")
    if params is None and "reply_to_message_id" in p:
        params = {
            "message_id": p.int_opt("reply_to_message_id"),
            "allow_sending_without_reply": p.bool_opt("allow_sending_without_reply"),
        }
    if params is None:
        return None
    if not isinstance(params, dict) or not isinstance(params.get("message_id"), int):
        raise bad_request("can't parse reply parameters JSON object")
    target_chat = chat
    if params.get("chat_id") is not None:
        target_chat = core.resolve_chat(params["chat_id"])
    target = target_chat.messages.get(params["message_id"])
    if target is None or target.deleted:
        if params.get("allow_sending_without_reply"):
            return None
        raise bad_request("message to be replied not found")
    return {k: v for k, v in target.data.items() if k != "reply_to_message"}


def _common(core: StandinCore, chat: ChatInfo, p: Params, body: JSONDict) -> JSONDict:
    """Validate and add the options shared by all send methods."""
    markup = _markup(p, inline_only=False)
    reply = _reply_to(core, chat, p)
    preview = p.json_opt("link_preview_options", "link preview options")
    if preview is not None and not isinstance(preview, dict):
        raise bad_request("can't parse link preview options JSON object")
    if markup is not None:
        body["reply_markup"] = markup
    if reply is not None:
        body["reply_to_message"] = reply
    if p.bool_opt("protect_content"):
        body["has_protected_content"] = True
    return body


def _with_text(formatted: FormattedText, key: str = "text") -> JSONDict:
    body: JSONDict = {key: formatted.text}
    if formatted.entities:
        body["entities" if key == "text" else "caption_entities"] = formatted.entities_json()
    return body


@method("sendMessage")
async def send_message(core: StandinCore, p: Params) -> JSONDict:
    chat = core.writable_chat(p.chat_id())
    formatted = _text(core, p)
    body = _common(core, chat, p, _with_text(formatted))
    silent = p.bool_opt("disable_notification")
    return core.new_bot_message(chat, "sendMessage", "message", body, silent).data


def _photo_sizes(core: StandinCore, width: int, height: int, size: int) -> list[JSONDict]:
    sizes: list[JSONDict] = []
    for limit in (90, 320, 800, 1280):
        w, h = scaled(width, height, limit)
        if sizes and (w, h) == (sizes[-1]["width"], sizes[-1]["height"]):
            continue
        serial = core.next_id()
        sizes.append(
            {
                "file_id": f"AgACAgIAAxkDstandin{serial:08d}",
                "file_unique_id": f"AQADstandin{serial:08d}",
                "file_size": max(1, size * w * h // max(1, width * height)),
                "width": w,
                "height": h,
            }
        )
    return sizes


def _photo(core: StandinCore, p: Params) -> list[JSONDict]:
    upload = p.file("photo")
    if upload is not None:
        _mime, width, height = check_photo(upload.data)
        sizes = _photo_sizes(core, width, height, len(upload.data))
        for size in sizes:
            core.files[size["file_id"]] = upload.data
            core.photos[size["file_id"]] = sizes
        return sizes
    ref = p.str_opt("photo")
    if ref is None:
        raise bad_request("there is no photo in the request")
    if ref in core.photos:
        return core.photos[ref]
    if ref.startswith(("http://", "https://")):
        # Not fetched: the stand-in has no internet.  Recorded as a 512x512 photo.
        return _photo_sizes(core, 512, 512, 50_000)
    raise bad_request("wrong file identifier/HTTP URL specified")


@method("sendPhoto")
async def send_photo(core: StandinCore, p: Params) -> JSONDict:
    chat = core.writable_chat(p.chat_id())
    sizes = _photo(core, p)
    caption = _caption(core, p)
    body: JSONDict = {"photo": sizes}
    if caption is not None and caption.text:
        body.update(_with_text(caption, "caption"))
    if p.bool_opt("has_spoiler"):
        body["has_media_spoiler"] = True
    if p.bool_opt("show_caption_above_media"):
        body["show_caption_above_media"] = True
    body = _common(core, chat, p, body)
    silent = p.bool_opt("disable_notification")
    return core.new_bot_message(chat, "sendPhoto", "photo", body, silent).data


def _document(core: StandinCore, p: Params) -> JSONDict:
    """The ``document`` of a sendDocument: an upload (its bytes kept in ``core.files`` under the
    new file_id) or the file_id of an earlier one."""
    upload = p.file("document")
    if upload is not None:
        mime = check_document(upload.data, upload.filename, upload.content_type)
        serial = core.next_id()
        document: JSONDict = {
            "file_id": f"BQACAgIAAxkDstandin{serial:08d}",
            "file_unique_id": f"AgADstandin{serial:08d}",
        }
        if upload.filename:
            document["file_name"] = upload.filename
        document.update({"mime_type": mime, "file_size": len(upload.data)})
        core.files[document["file_id"]] = upload.data
        core.documents[document["file_id"]] = document
        return document
    ref = p.str_opt("document")
    if ref is None:
        raise bad_request("there is no document in the request")
    if ref in core.documents:
        return core.documents[ref]
    if ref.startswith(("http://", "https://")):
        raise bad_request("failed to get HTTP URL content")  # the stand-in has no internet
    raise bad_request("wrong file identifier/HTTP URL specified")


@method("sendDocument")
async def send_document(core: StandinCore, p: Params) -> JSONDict:
    chat = core.writable_chat(p.chat_id())
    caption = _caption(core, p)
    body: JSONDict = {}
    if caption is not None and caption.text:
        body.update(_with_text(caption, "caption"))
    body = _common(core, chat, p, body)
    body = {"document": _document(core, p), **body}  # validated first, stored last
    silent = p.bool_opt("disable_notification")
    return core.new_bot_message(chat, "sendDocument", "document", body, silent).data


def _message_to_edit(core: StandinCore, p: Params) -> tuple[ChatInfo, StoredMessage]:
    if "inline_message_id" in p:
        raise bad_request("MESSAGE_ID_INVALID")
    chat = core.writable_chat(p.chat_id())
    message_id = p.int_req("message_id", "message identifier is not specified")
    message = core.live_message(chat, message_id, "message to edit not found")
    if not message.from_bot:
        raise bad_request("message can't be edited")
    return chat, message


def _unchanged(message: StoredMessage, changes: JSONDict) -> bool:
    return all(message.data.get(key) == value for key, value in changes.items())


@method("editMessageText")
async def edit_message_text(core: StandinCore, p: Params) -> JSONDict:
    chat, message = _message_to_edit(core, p)
    if "text" not in message.data:
        raise bad_request("there is no text in the message to edit")
    formatted = _text(core, p)
    changes: JSONDict = {
        "text": formatted.text,
        "entities": formatted.entities_json() or None,
        "reply_markup": _markup(p, inline_only=True),
    }
    if _unchanged(message, changes):
        raise bad_request(NOT_MODIFIED)
    return core.edit_bot_message(chat, message, "editMessageText", "edit", changes).data


@method("editMessageCaption")
async def edit_message_caption(core: StandinCore, p: Params) -> JSONDict:
    chat, message = _message_to_edit(core, p)
    if "text" in message.data:
        raise bad_request("there is no caption in the message to edit")
    caption = _caption(core, p)
    changes: JSONDict = {
        "caption": caption.text if caption and caption.text else None,
        "caption_entities": caption.entities_json() or None if caption else None,
        "reply_markup": _markup(p, inline_only=True),
    }
    if _unchanged(message, changes):
        raise bad_request(NOT_MODIFIED)
    return core.edit_bot_message(chat, message, "editMessageCaption", "edit", changes).data


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(core: StandinCore, p: Params) -> JSONDict:
    chat, message = _message_to_edit(core, p)
    changes: JSONDict = {"reply_markup": _markup(p, inline_only=True)}
    if _unchanged(message, changes):
        raise bad_request(NOT_MODIFIED)
    return core.edit_bot_message(chat, message, "editMessageReplyMarkup", "markup", changes).data


@method("deleteMessage")
async def delete_message(core: StandinCore, p: Params) -> bool:
    chat = core.resolve_chat(p.chat_id())
    message_id = p.int_req("message_id", "message identifier is not specified")
    message = core.live_message(chat, message_id, "message to delete not found")
    message.deleted = True
    core.recorder.record(chat, "delete", "deleteMessage", message_id, {"message_id": message_id})
    return True


@method("sendChatAction")
async def send_chat_action(core: StandinCore, p: Params) -> bool:
    chat = core.writable_chat(p.chat_id())
    action = p.str_opt("action")
    if action is None or action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    core.recorder.record(chat, "chat_action", "sendChatAction", None, {"action": action})
    return True


@method("answerCallbackQuery")
async def answer_callback_query(core: StandinCore, p: Params) -> bool:
    query_id = p.str_opt("callback_query_id")
    query = core.queries.get(query_id or "")
    ttl = core.callback_query_ttl
    expired = query is not None and ttl is not None and time.monotonic() - query.created > ttl
    if query is None or query.answered or expired:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = p.text_opt("text")
    if text is not None and len(text) > MAX_CALLBACK_TEXT:
        raise bad_request("MESSAGE_TOO_LONG")
    url = p.str_opt("url")
    if url is not None and not url.startswith(("https://t.me/", "tg://")):
        raise bad_request("URL_INVALID")
    query.answered = True
    query.answer_text = text or None
    query.show_alert = p.bool_opt("show_alert")
    query.answer_url = url
    chat = core.chats[query.chat_id]
    chat.callback_answers.append(query)
    core.recorder.record(
        chat, "callback_answer", "answerCallbackQuery", query.message_id,
        {"callback_query_id": query.id, "text": query.answer_text,
         "show_alert": query.show_alert, "url": url, "data": query.data},
    )  # fmt: skip
    return True
