"""Bot-level Bot API methods: identity, updates, webhook, commands and profile texts."""

from __future__ import annotations

import json
import re
from typing import Any

from .core import Described, StandinCore, WebhookSettings
from .errors import bad_request, conflict
from .params import Params
from .registry import method
from .updates import WEBHOOK_ACTIVE
from .webhook import WebhookDelivery, check_secret_token, check_webhook_url

JSONDict = dict[str, Any]

_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_SCOPES: dict[str, tuple[str, ...]] = {
    "default": (),
    "all_private_chats": (),
    "all_group_chats": (),
    "all_chat_administrators": (),
    "chat": ("chat_id",),
    "chat_administrators": ("chat_id",),
    "chat_member": ("chat_id", "user_id"),
}
_MENU_TYPES = frozenset({"commands", "web_app", "default"})
_PROFILE_TEXTS = {"description": 512, "short_description": 120, "name": 64}


@method("getMe")
async def get_me(core: StandinCore, p: Params) -> JSONDict:
    return core.bot_json()


@method("logOut")
async def log_out(core: StandinCore, p: Params) -> bool:
    return True


@method("close")
async def close(core: StandinCore, p: Params) -> bool:
    return True


def _allowed_updates(p: Params) -> list[str] | None:
    allowed = p.json_opt("allowed_updates", "allowed updates")
    if allowed is None:
        return None
    if not isinstance(allowed, list) or not all(isinstance(kind, str) for kind in allowed):
        raise bad_request("can't parse allowed updates JSON object")
    return allowed


@method("getUpdates")
async def get_updates(core: StandinCore, p: Params) -> list[JSONDict]:
    if core.webhook is not None:
        raise conflict(WEBHOOK_ACTIVE)
    core.updates.set_allowed(_allowed_updates(p))
    limit = p.int_opt("limit")
    timeout = p.float_opt("timeout") or 0.0
    return await core.updates.poll(p.int_opt("offset"), 100 if limit is None else limit, timeout)


async def _stop_webhook(core: StandinCore) -> list[JSONDict]:
    delivery, core.webhook, core.webhook_settings = core.webhook, None, None
    return [] if delivery is None else await delivery.close()


@method("setWebhook")
async def set_webhook(core: StandinCore, p: Params) -> Described:
    url = p.str_opt("url") or ""
    drop = p.bool_opt("drop_pending_updates")
    if not url:
        removed: Described = await delete_webhook(core, p)
        return removed
    check_webhook_url(url)
    secret = p.str_opt("secret_token")
    if secret is not None:
        check_secret_token(secret)
    max_connections = p.int_opt("max_connections") or 40
    if not 1 <= max_connections <= 100:
        raise bad_request("bad webhook: max_connections must be between 1 and 100")
    allowed = _allowed_updates(p)
    settings = WebhookSettings(url, secret, max_connections, allowed, p.str_opt("ip_address"))
    unchanged = core.webhook_settings is not None and core.webhook_settings.url == url
    assert core.session is not None, "the stand-in is not running"
    core.updates.set_allowed(allowed)
    leftovers = await _stop_webhook(core)
    if drop:
        leftovers = []
        core.updates.drop_pending()
    leftovers.extend(core.updates.take_all())
    core.updates.supersede(WEBHOOK_ACTIVE)
    core.webhook = WebhookDelivery(
        core.session, url, secret, max_connections,
        core.webhook_max_attempts, core.webhook_retry_delay,
    )  # fmt: skip
    core.webhook_settings = settings
    for update in sorted(leftovers, key=lambda u: int(u["update_id"])):
        core.webhook.enqueue(update)
    return Described(True, "Webhook is already set" if unchanged else "Webhook was set")


@method("deleteWebhook")
async def delete_webhook(core: StandinCore, p: Params) -> Described:
    was_set = core.webhook is not None
    leftovers = await _stop_webhook(core)
    if p.bool_opt("drop_pending_updates"):
        core.updates.drop_pending()
    else:
        core.updates.put_back(leftovers)
    return Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")


@method("getWebhookInfo")
async def get_webhook_info(core: StandinCore, p: Params) -> JSONDict:
    settings, delivery = core.webhook_settings, core.webhook
    if settings is None or delivery is None:
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": core.updates.pending_count,
        }
    info: JSONDict = {
        "url": settings.url,
        "has_custom_certificate": False,
        "pending_update_count": delivery.pending_count,
        "max_connections": settings.max_connections,
    }
    if settings.ip_address:
        info["ip_address"] = settings.ip_address
    if settings.allowed_updates:
        info["allowed_updates"] = settings.allowed_updates
    if delivery.last_error_date is not None:
        info["last_error_date"] = delivery.last_error_date
        info["last_error_message"] = delivery.last_error_message
    return info


def _scope_key(core: StandinCore, p: Params) -> str:
    scope = p.json_opt("scope", "bot command scope") or {"type": "default"}
    if not isinstance(scope, dict) or scope.get("type") not in _SCOPES:
        raise bad_request("wrong bot command scope type specified")
    fields = _SCOPES[str(scope["type"])]
    for field in fields:
        if field not in scope:
            raise bad_request(f'can\'t parse BotCommandScope: field "{field}" is required')
    if "chat_id" in scope:
        core.resolve_chat(scope["chat_id"])
    return json.dumps({k: scope[k] for k in ("type", *fields)}, sort_keys=True)


def _language(p: Params) -> str:
    language = p.str_opt("language_code") or ""
    if language and not (len(language) == 2 and language.isascii() and language.isalpha()):
        raise bad_request("invalid language code specified")
    return language.lower()


def _commands(p: Params) -> list[JSONDict]:
    commands = p.json_opt("commands", "BotCommand array")
    if commands is None:
        raise bad_request('parameter "commands" is required')
    if not isinstance(commands, list):
        raise bad_request("can't parse BotCommand array JSON object")
    if len(commands) > 100:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    checked: list[JSONDict] = []
    for item in commands:
        if not isinstance(item, dict):
            raise bad_request("can't parse BotCommand: BotCommand must be an Object")
        command, description = item.get("command"), item.get("description")
        if not isinstance(command, str) or not _COMMAND.fullmatch(command):
            raise bad_request("BOT_COMMAND_INVALID")
        if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        checked.append({"command": command, "description": description})
    return checked


@method("setMyCommands")
async def set_my_commands(core: StandinCore, p: Params) -> bool:
    commands = _commands(p)
    core.commands[(_scope_key(core, p), _language(p))] = commands
    return True


@method("getMyCommands")
async def get_my_commands(core: StandinCore, p: Params) -> list[JSONDict]:
    return list(core.commands.get((_scope_key(core, p), _language(p)), []))


@method("deleteMyCommands")
async def delete_my_commands(core: StandinCore, p: Params) -> bool:
    core.commands.pop((_scope_key(core, p), _language(p)), None)
    return True


def _menu_chat(core: StandinCore, p: Params) -> int | None:
    if "chat_id" not in p:
        return None
    return core.resolve_chat(p.chat_id()).id


@method("setChatMenuButton")
async def set_chat_menu_button(core: StandinCore, p: Params) -> bool:
    button = p.json_opt("menu_button", "menu button") or {"type": "default"}
    if not isinstance(button, dict) or button.get("type") not in _MENU_TYPES:
        raise bad_request("can't parse menu button JSON object")
    if button["type"] == "web_app" and not (button.get("text") and button.get("web_app")):
        raise bad_request("can't parse menu button JSON object")
    core.menu_buttons[_menu_chat(core, p)] = button
    return True


@method("getChatMenuButton")
async def get_chat_menu_button(core: StandinCore, p: Params) -> JSONDict:
    button = core.menu_buttons.get(_menu_chat(core, p)) or core.menu_buttons.get(None)
    if button is None or button["type"] == "default":
        return {"type": "commands"}
    return button


def _profile_text(kind: str) -> None:
    limit = _PROFILE_TEXTS[kind]
    camel = "".join(part.title() for part in kind.split("_"))

    async def setter(core: StandinCore, p: Params) -> bool:
        value = p.text_opt(kind) or ""
        if len(value) > limit:
            raise bad_request(f"{kind.replace('_', ' ')} is too long")
        core.bot_texts[(kind, _language(p))] = value
        return True

    async def getter(core: StandinCore, p: Params) -> JSONDict:
        language = _language(p)
        value = core.bot_texts.get((kind, language)) or core.bot_texts.get((kind, ""), "")
        if kind == "name" and not value:
            value = core.bot.first_name
        return {kind: value}

    method(f"setMy{camel}")(setter)
    method(f"getMy{camel}")(getter)


for _kind in _PROFILE_TEXTS:
    _profile_text(_kind)


@method("getChat")
async def get_chat(core: StandinCore, p: Params) -> JSONDict:
    return core.resolve_chat(p.chat_id()).full_info()
