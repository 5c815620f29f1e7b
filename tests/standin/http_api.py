"""HTTP face of the Bot API: ``/bot<token>/<method>`` with GET or POST bodies of any kind."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web

from . import methods_bot, methods_messages
from .core import Described, StandinCore
from .errors import ApiError, bad_request
from .params import Params, UploadedFile
from .registry import METHODS

# Importing the method modules is what fills METHODS.
METHOD_MODULES = (methods_bot, methods_messages)

JSONDict = dict[str, Any]
LOG = logging.getLogger("tests.standin")
MAX_BODY = 50 * 1024 * 1024  # Telegram's upload limit for bots
PASSIVE_METHODS = frozenset({"getupdates", "getwebhookinfo"})
_GATEWAY_HTML = (
    "<html>\r\n<head><title>{code} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {phrase}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_PHRASES = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


def _dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def json_reply(payload: JSONDict, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status, dumps=_dumps)


def error_reply(error: ApiError) -> web.Response:
    return json_reply(error.to_payload(), error.code)


def server_error_reply(status: int) -> web.Response:
    """500 comes from the Bot API itself as JSON; 502-504 from its nginx front as HTML."""
    if status == 500:
        return error_reply(ApiError(500, "Internal Server Error"))
    phrase = _PHRASES[status]
    return web.Response(
        status=status,
        text=_GATEWAY_HTML.format(code=status, phrase=phrase),
        content_type="text/html",
    )


async def read_params(request: web.Request) -> Params:
    """Merge query-string parameters with a form, multipart or JSON body."""
    values: dict[str, Any] = dict(request.query.items())
    files: dict[str, UploadedFile] = {}
    if not request.body_exists:
        return Params(values)
    content_type = request.content_type
    if content_type == "application/json":
        try:
            body = json.loads(await request.text())
        except ValueError:
            raise bad_request("can't parse JSON encoded request") from None
        if not isinstance(body, dict):
            raise bad_request("JSON encoded request must be an Object")
        values.update(body)
    elif content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                data = value.file.read()
                files[key] = UploadedFile(key, value.filename, value.content_type, data)
            elif isinstance(value, bytes | bytearray):
                values[key] = bytes(value).decode("utf-8", "replace")
            else:
                values[key] = value
    return Params(values, files)


def redirect_reply(request: web.Request) -> web.Response:
    """An nginx-style 302 back to the same URL (the redirect-loop fault)."""
    return web.Response(
        status=302,
        text=_GATEWAY_HTML.format(code=302, phrase="Found"),
        content_type="text/html",
        headers={"Location": str(request.url)},
    )


class BotApiHttp:
    """aiohttp handlers bound to one :class:`StandinCore`."""

    def __init__(self, core: StandinCore) -> None:
        self.core = core
        self.internal_errors: list[BaseException] = []

    def routes(self) -> list[web.RouteDef]:
        return [web.route("*", "/bot{token}/{method}", self.handle)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        core = self.core
        if request.method not in {"GET", "POST"}:
            return error_reply(ApiError(404, "Not Found"))
        if core.faults.redirects(request.match_info["method"].lower()):
            return redirect_reply(request)
        if request.match_info["token"] != core.token:
            return error_reply(ApiError(401, "Unauthorized"))
        name = request.match_info["method"]
        key = name.lower()
        handler = METHODS.get(key)
        if handler is None:
            return error_reply(core.not_implemented(name))
        try:
            params = await read_params(request)
        except ApiError as error:
            return error_reply(error)
        core.calls[key] += 1
        if key not in PASSIVE_METHODS:
            core.recorder.touch()
        delay = core.faults.delay_for(key)
        if delay > 0:
            await asyncio.sleep(delay)
        fault = core.faults.before_call(key)
        if isinstance(fault, int):
            return server_error_reply(fault)
        if fault is not None:
            return error_reply(fault)
        try:
            result = await handler(core, params)
        except ApiError as error:
            return error_reply(error)
        except Exception as exc:  # a stand-in bug must not look like a Telegram answer
            LOG.exception("stand-in failed on %s", name)
            self.internal_errors.append(exc)
            return error_reply(ApiError(500, "Internal Server Error"))
        if key not in PASSIVE_METHODS:
            core.recorder.touch()
        if isinstance(result, Described):
            return json_reply({"ok": True, "result": result.result, "description": result.description})
        return json_reply({"ok": True, "result": result})
