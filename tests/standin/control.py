"""A JSON control endpoint so a stand-in in another process can be driven.

``POST /_standin/rpc`` with ``{"op": name, "args": {...}}`` answers
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}``.  Only the
operations below exist; they mirror :class:`BotApiStandin` methods.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .models import StoredMessage

if TYPE_CHECKING:
    from .server import BotApiStandin

JSONDict = dict[str, Any]
Op = Callable[..., Awaitable[Any]]


def message_json(message: StoredMessage) -> JSONDict:
    return {
        "message_id": message.message_id,
        "text": message.text,
        "buttons": message.button_labels(),
        "deleted": message.deleted,
        "edited": bool(message.history),
        "data": message.data,
    }


class ControlApi:
    def __init__(self, api: BotApiStandin) -> None:
        self.api = api
        self.ops: dict[str, Op] = {
            name.removeprefix("op_"): getattr(self, name) for name in dir(self) if name.startswith("op_")
        }

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/_standin/rpc", self.handle)]

    async def handle(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.text())
            op = self.ops[body["op"]]
            result = await op(**body.get("args", {}))
        except (AssertionError, KeyError, TypeError, ValueError) as exc:
            return web.json_response({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return web.json_response({"ok": True, "result": result})

    async def op_add_user(self, user_id: int, first_name: str = "User", **kw: Any) -> bool:
        self.api.add_user(user_id, first_name, **kw)
        return True

    async def op_add_users(self, first_id: int, count: int, first_name: str = "User") -> int:
        for user_id in range(first_id, first_id + count):
            if user_id not in self.api.core.chats:
                self.api.add_user(user_id, f"{first_name}{user_id}")
        return count

    async def op_send_text(self, chat_id: int, text: str) -> int:
        return int(self.api.send_text(chat_id, text)["update_id"])

    async def op_send_command(self, chat_id: int, command: str, args: str = "") -> int:
        return int(self.api.send_command(chat_id, command, args)["update_id"])

    async def op_click(self, chat_id: int, label: str) -> str:
        message, button = self.api.find_button(chat_id, label)
        data = str(button.get("callback_data"))
        return self.api.press_button(chat_id, message.message_id, data).id

    async def op_click_data(self, chat_id: int, message_id: int, data: str) -> str:
        return self.api.press_button(chat_id, message_id, data).id

    async def op_block(self, user_id: int) -> bool:
        self.api.block(user_id)
        return True

    async def op_unblock(self, user_id: int) -> bool:
        self.api.unblock(user_id)
        return True

    async def op_messages(self, chat_id: int) -> list[JSONDict]:
        return [message_json(m) for m in self.api.messages(chat_id)]

    async def op_wait_for_messages(self, chat_id: int, count: int, timeout: float = 5.0) -> list[JSONDict]:
        return [message_json(m) for m in await self.api.wait_for_messages(chat_id, count, timeout)]

    async def op_wait_for_text(self, chat_id: int, text: str, timeout: float = 5.0) -> JSONDict:
        return message_json(await self.api.wait_for_message(chat_id, text, timeout))

    async def op_wait_quiet(self, quiet_for: float = 0.3, timeout: float = 10.0) -> bool:
        await self.api.wait_quiet(quiet_for, timeout)
        return True

    async def op_transcript(self, chat_id: int) -> str:
        return self.api.transcript(chat_id).render()

    async def op_stats(self) -> JSONDict:
        return self.api.stats()

    async def op_fail_every(self, method: str, n: int, retry_after: int = 1) -> bool:
        self.api.fail_every(method, n, retry_after)
        return True

    async def op_fail_next(self, count: int, status: int = 500, methods: list[str] | None = None) -> bool:
        self.api.fail_next(count, status, methods)
        return True

    async def op_set_latency(self, seconds: float, methods: list[str] | None = None) -> bool:
        self.api.set_latency(seconds, methods)
        return True

    async def op_enable_flood_control(self, **limits: Any) -> bool:
        self.api.enable_flood_control(**limits)
        return True

    async def op_disable_flood_control(self) -> bool:
        self.api.disable_flood_control()
        return True

    async def op_clear_faults(self) -> bool:
        self.api.clear_faults()
        return True
