"""Delivering updates to a webhook, like Telegram: one JSON update per POST.

Updates of one chat are delivered strictly in order; different chats are
delivered concurrently by up to ``max_connections`` workers.  A non-2xx answer
is retried a few times, then the update is dropped (Telegram retries longer).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import ipaddress
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from .errors import bad_request

JSONDict = dict[str, Any]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_SECRET_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass(frozen=True)
class DeliveryAttempt:
    update_id: int
    attempt: int
    status: int | None  # HTTP status, None when the connection failed
    error: str | None
    time: float


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def check_webhook_url(url: str) -> None:
    """Refuse anything but http(s) on a loopback address: the stand-in never leaves the host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        raise bad_request("bad webhook: invalid URL") from None
    if parts.scheme not in {"http", "https"}:
        raise bad_request("bad webhook: HTTPS url must be provided for webhook")
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise bad_request("bad webhook: the stand-in delivers only to loopback addresses")


def check_secret_token(secret: str) -> None:
    if not 1 <= len(secret) <= 256 or not set(secret) <= _SECRET_CHARS:
        raise bad_request("secret token contains unallowed characters")


def chat_key(update: JSONDict) -> str:
    """The chat an update belongs to (updates of one chat stay in order)."""
    for field in ("message", "edited_message", "channel_post", "edited_channel_post"):
        body = update.get(field)
        if isinstance(body, dict) and isinstance(body.get("chat"), dict):
            return f"chat:{body['chat'].get('id')}"
    query = update.get("callback_query")
    if isinstance(query, dict) and isinstance(query.get("from"), dict):
        return f"user:{query['from'].get('id')}"
    return f"update:{update.get('update_id')}"


async def post_update(
    session: aiohttp.ClientSession,
    url: str,
    update: JSONDict,
    secret: str | None,
    timeout: float = 10.0,
) -> int:
    """POST one update the way Telegram does and return the HTTP status."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    async with session.post(
        url, json=update, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as response:
        await response.read()
        return response.status


class WebhookDelivery:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        secret: str | None,
        max_connections: int,
        max_attempts: int = 3,
        retry_delay: float = 0.1,
    ) -> None:
        self.url = url
        self.secret = secret
        self.max_connections = max_connections
        self.attempts: list[DeliveryAttempt] = []
        self.delivered: list[JSONDict] = []
        self.failed: list[JSONDict] = []
        self.last_error_date: int | None = None
        self.last_error_message: str | None = None
        self._session = session
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._chats: dict[str, deque[JSONDict]] = {}
        self._ready: asyncio.Queue[str] = asyncio.Queue()
        self._in_flight: dict[str, JSONDict] = {}
        self._workers = [
            asyncio.create_task(self._work(), name=f"standin-webhook-{n}") for n in range(max_connections)
        ]

    @property
    def pending_count(self) -> int:
        return sum(len(q) for q in self._chats.values()) + len(self._in_flight)

    def enqueue(self, update: JSONDict) -> None:
        key = chat_key(update)
        queue = self._chats.get(key)
        if queue is None:
            self._chats[key] = deque([update])
            self._ready.put_nowait(key)
        else:
            queue.append(update)

    async def close(self) -> list[JSONDict]:
        """Stop delivering; return the updates that were not delivered, in order."""
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        left = list(self._in_flight.values())
        for queue in self._chats.values():
            left.extend(queue)
        self._chats.clear()
        self._in_flight.clear()
        return sorted(left, key=lambda u: int(u["update_id"]))

    async def _work(self) -> None:
        while True:
            key = await self._ready.get()
            queue = self._chats[key]
            update = queue.popleft()
            self._in_flight[key] = update
            await self._deliver(update)
            del self._in_flight[key]
            if queue:
                self._ready.put_nowait(key)
            else:
                del self._chats[key]

    async def _deliver(self, update: JSONDict) -> None:
        for attempt in range(1, self._max_attempts + 1):
            status: int | None = None
            error: str | None = None
            try:
                status = await post_update(self._session, self.url, update, self.secret)
                if 200 <= status <= 299:
                    self.attempts.append(
                        DeliveryAttempt(update["update_id"], attempt, status, None, time.monotonic())
                    )
                    self.delivered.append(update)
                    return
                error = f"Wrong response from the webhook: {status} {_phrase(status)}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"Connection failed: {exc.__class__.__name__}"
            self.attempts.append(
                DeliveryAttempt(update["update_id"], attempt, status, error, time.monotonic())
            )
            self.last_error_date = int(time.time())
            self.last_error_message = error
            if attempt < self._max_attempts:
                await asyncio.sleep(self._retry_delay * attempt)
        self.failed.append(update)
