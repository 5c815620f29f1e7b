"""Drive a stand-in running in another process (``python -m tests.standin``)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

from .server import DEFAULT_TOKEN

_REPO_ROOT = Path(__file__).resolve().parents[2]


class RemoteError(RuntimeError):
    """The remote stand-in refused an operation (e.g. a wait timed out)."""


class RemoteStandin:
    """Calls ``/_standin/rpc``; ``await remote.call("send_text", chat_id=1, text="hi")``."""

    def __init__(self, root_url: str) -> None:
        self.root_url = root_url.rstrip("/")
        self.base_url = f"{self.root_url}/bot"
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> RemoteStandin:
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, op: str, **args: Any) -> Any:
        if self._session is None:
            raise RuntimeError("use 'async with RemoteStandin(url)'")
        async with self._session.post(
            f"{self.root_url}/_standin/rpc", json={"op": op, "args": args}
        ) as response:
            reply = await response.json()
        if not reply.get("ok"):
            raise RemoteError(str(reply.get("error")))
        return reply.get("result")


@contextlib.asynccontextmanager
async def spawn_standin(
    port: int = 0,
    token: str = DEFAULT_TOKEN,
    startup_timeout: float = 10.0,
    extra_args: tuple[str, ...] = (),
) -> AsyncIterator[RemoteStandin]:
    """Run ``python -m tests.standin`` as a child process and connect to it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.standin", "--port", str(port), "--token", token, *extra_args,
        stdout=asyncio.subprocess.PIPE, cwd=_REPO_ROOT,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), startup_timeout)
        base_url = line.decode().strip()
        if not base_url.endswith("/bot"):
            raise RuntimeError(f"unexpected stand-in output: {base_url!r}")
        async with RemoteStandin(base_url.removesuffix("/bot")) as remote:
            yield remote
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 5.0)
            except TimeoutError:
                process.kill()
                await process.wait()
