"""A round-robin HTTP reverse proxy for the end-to-end tests, like nginx's default upstream.

    async with RoundRobinProxy(["http://127.0.0.1:8001", "http://127.0.0.1:8002"]) as proxy:
        proxy.url("/telegram")   # http://127.0.0.1:PORT/telegram, what Telegram is told
        ...
        proxy.counts             # {"http://127.0.0.1:8001": 12, "http://127.0.0.1:8002": 11}

* **Listening**: on ``127.0.0.1``, on a free port the kernel picks (:attr:`port` once entered).
* **Forwarding**: each request (any method and path, its query, headers such as
  ``X-Telegram-Bot-Api-Secret-Token``, and its body) goes to the next upstream in turn, and
  that upstream's status, headers and body are the answer. Hop-by-hop headers (``Connection``,
  ``Transfer-Encoding``, ...) and ``Host`` / ``Content-Length`` are not copied: each leg has
  its own.
* **A failed upstream** (connection refused, reset or closed before an answer, or no
  connection within ``connect_timeout``) is skipped: the same request goes to the next one,
  like nginx's ``proxy_next_upstream error timeout non_idempotent`` (a webhook POST is retried
  too: the bot is expected to notice a repeated ``update_id``). Each upstream is tried at most
  once per request; when all have failed the answer is 502. An upstream that accepted the
  request but gives no answer within ``read_timeout`` is not retried (it may be acting on
  it): the answer is 504. Statuses in ``retry_statuses`` (none by default; nginx's
  ``http_503`` would be ``{503}``) count as failures too.
* **Bounded**: a request costs at most ``len(upstreams)`` attempts of at most
  ``connect_timeout`` + ``read_timeout`` seconds each; leaving the ``async with`` closes the
  listener and the client session.
* **What happened** is kept for the tests: :attr:`counts` (answers per upstream),
  :attr:`failures` (failed attempts per upstream), :attr:`bad_gateway` (requests answered
  502/504 by the proxy itself) and :attr:`forwarded` (every answered request, body included).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from types import TracebackType

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["Forwarded", "RoundRobinProxy"]

HOST = "127.0.0.1"
CONNECT_TIMEOUT = 2.0  # seconds to connect to an upstream
READ_TIMEOUT = 30.0  # seconds for an upstream to answer once connected
MAX_BODY = 4 << 20  # largest request body taken in (bytes)

# RFC 9110 7.6.1 hop-by-hop headers, plus those each leg sets for itself.
_NOT_COPIED = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length",
})


def _copied(headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    """``headers`` without the hop-by-hop ones (and without any the ``Connection`` header names)."""
    source: CIMultiDict[str] = CIMultiDict(headers)
    named = {token.strip().lower() for value in source.getall("Connection", [])
             for token in value.split(",") if token.strip()}
    return CIMultiDict((key, value) for key, value in source.items()
                       if key.lower() not in _NOT_COPIED and key.lower() not in named)


@dataclass(frozen=True, slots=True)
class Forwarded:
    """One request an upstream answered: which upstream, what was asked, and its status."""

    upstream: str
    method: str
    path: str
    status: int
    body: bytes


class RoundRobinProxy:
    """Forwards each request to the next of ``upstreams`` (base URLs such as
    ``http://127.0.0.1:8443``), skipping any that fail; see the module docstring."""

    def __init__(self, upstreams: Sequence[str], *, connect_timeout: float = CONNECT_TIMEOUT,
                 read_timeout: float = READ_TIMEOUT, retry_statuses: Collection[int] = ()) -> None:
        if not upstreams:
            raise ValueError("a proxy needs at least one upstream")
        self.upstreams: tuple[str, ...] = tuple(u.rstrip("/") for u in upstreams)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.retry_statuses = frozenset(retry_statuses)
        self.counts: dict[str, int] = dict.fromkeys(self.upstreams, 0)
        self.failures: dict[str, int] = dict.fromkeys(self.upstreams, 0)
        self.bad_gateway = 0
        self.forwarded: list[Forwarded] = []
        self._next = 0
        self._port: int | None = None
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ lifetime

    @property
    def port(self) -> int:
        """The port it listens on (only once started)."""
        if self._port is None:
            raise RuntimeError("the proxy is not running")
        return self._port

    def url(self, path: str = "/") -> str:
        """``http://127.0.0.1:PORT`` + ``path``."""
        return f"http://{HOST}:{self.port}{path}"

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.connect_timeout + self.read_timeout,
                                        sock_connect=self.connect_timeout,
                                        sock_read=self.read_timeout)
        # a compressed body is passed on as it came, with its Content-Encoding
        self._session = aiohttp.ClientSession(timeout=timeout, auto_decompress=False)
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        try:
            await self._runner.setup()
            site = web.TCPSite(self._runner, HOST, 0)
            await site.start()
            address = self._runner.addresses[0]
            self._port = int(address[1])
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        self._port = None
        if self._runner is not None:
            runner, self._runner = self._runner, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(runner.cleanup(), 10)
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def __aenter__(self) -> RoundRobinProxy:
        await self.start()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.stop()

    # ------------------------------------------------------------------ forwarding

    def _turn(self) -> list[str]:
        """The upstreams in the order this request tries them: the next in turn first."""
        start = self._next
        self._next = (self._next + 1) % len(self.upstreams)
        return [self.upstreams[(start + i) % len(self.upstreams)] for i in range(len(self.upstreams))]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        headers = _copied(request.headers)
        target = request.rel_url.raw_path_qs  # path and query exactly as received
        for upstream in self._turn():
            try:
                async with self._session.request(request.method, upstream + target, headers=headers,
                                                 data=body, allow_redirects=False) as response:
                    content = await response.read()
                    status, answer_headers = response.status, _copied(response.headers)
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError,
                    aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                self.failures[upstream] += 1  # never reached it, or it went away: the next one
                continue
            except (aiohttp.ClientError, TimeoutError):
                # it took the request and gave no (readable) answer in time: it may be acting on
                # it, so no other upstream gets it (nginx: proxy_read_timeout -> 504)
                self.failures[upstream] += 1
                self.bad_gateway += 1
                return web.Response(status=504, text="upstream timed out\n")
            if status in self.retry_statuses:
                self.failures[upstream] += 1
                continue
            self.counts[upstream] += 1
            self.forwarded.append(Forwarded(upstream, request.method, request.path, status, body))
            return web.Response(status=status, body=content, headers=answer_headers)
        self.bad_gateway += 1
        return web.Response(status=502, text="no upstream answered\n")
