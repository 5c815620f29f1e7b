"""An aiohttp-based HTTP client for python-telegram-bot (a ``BaseRequest``).

PTB's default client (httpx) spent about three quarters of the bot's CPU per update in
the load benchmark (connection-pool bookkeeping and per-request checks); aiohttp's
client does the same job several times cheaper, which is what keeps conversations
instant under load (see BENCHMARKS.md). It is PTB's documented extension point, so the
rest of the bot is unchanged.
"""

from __future__ import annotations

import errno

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from back_care_guide.observability.metrics import Metrics, api_method, api_outcome


class AiohttpRequest(BaseRequest):
    def __init__(self, *, connections: int = 256, read_timeout: float | None = 5.0,
                 connect_timeout: float = 5.0, write_timeout: float = 5.0,
                 media_write_timeout: float = 20.0, metrics: Metrics | None = None) -> None:
        self._connections = connections
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._write_timeout = write_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._metrics = metrics or Metrics()

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._connections, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data and request_data.contains_files else None
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        write = (self._media_write_timeout if files else self._write_timeout) \
            if isinstance(write_timeout, DefaultValue) else write_timeout
        total = None if read is None else read + (connect or 0) + (write or 0)
        timeout = aiohttp.ClientTimeout(total=total, sock_connect=connect, sock_read=read)
        data: aiohttp.FormData | dict[str, str] | None = None
        if request_data is not None:
            data = request_data.json_parameters
            if files:
                form = aiohttp.FormData()
                for name, value in data.items():
                    form.add_field(name, value)
                for name, (filename, content, mime) in files.items():
                    body = content if isinstance(content, bytes) else content.read()
                    form.add_field(name, body, filename=filename, content_type=mime)
                data = form
        # The URL holds the token, and aiohttp quotes URLs in its errors (TooManyRedirects,
        # ClientResponseError, connection timeouts): the errors raised here are built from the
        # exception's type and status alone, and drop the original (``from None``) so that no
        # traceback prints its text either. The Bot API never redirects: a redirect is an error.
        status: int | None = None
        try:
            async with self._session.request(method, url, data=data, timeout=timeout,
                                             allow_redirects=False) as response:
                status = response.status
                if 300 <= response.status < 400:
                    raise NetworkError(f"unexpected redirect from the Bot API (HTTP {response.status})")
                return response.status, await response.read()
        except TimeoutError:
            raise TimedOut from None
        except aiohttp.ClientError as err:
            raise NetworkError(describe(err)) from None
        finally:
            self._metrics.api_calls.labels(api_method(url), api_outcome(status)).inc()


def describe(err: aiohttp.ClientError) -> str:
    """What went wrong, without any text that could contain the request URL."""
    text = f"aiohttp.{type(err).__name__}"
    if isinstance(err, aiohttp.ClientResponseError):
        text += f" (HTTP {err.status})"
    elif isinstance(err, aiohttp.ClientConnectorError):
        code = err.os_error.errno
        if code is not None and code in errno.errorcode:
            text += f" ({errno.errorcode[code]})"  # e.g. ECONNREFUSED: a name, never a URL
    return text
