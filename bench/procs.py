"""Processes of the benchmark: the stand-in, the project's bot and the echo bot.

Everything listens on 127.0.0.1 only, every wait is bounded, and every process started
here is stopped here (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456789:AAE-bench-token-for-the-standin_0123"
STARTUP_TIMEOUT = 30.0
STOP_GRACE = 15.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class RpcError(RuntimeError):
    """The stand-in refused an operation."""


class Standin:
    """Calls the stand-in's ``/_standin/rpc`` (see :mod:`bench.standin_ext`)."""

    def __init__(self, root_url: str, pid: int) -> None:
        self.root_url = root_url
        self.base_url = f"{root_url}/bot"
        self.pid = pid
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, op: str, **args: Any) -> Any:
        """One operation, bounded: 40 s more than the operation's own ``timeout`` argument."""
        assert self._session is not None
        limit = aiohttp.ClientTimeout(total=float(args.get("timeout", 0.0)) + 40.0)
        async with self._session.post(f"{self.root_url}/_standin/rpc", json={"op": op, "args": args},
                                      timeout=limit) as response:
            reply = await response.json()
        if not reply.get("ok"):
            raise RpcError(f"{op}: {reply.get('error')}")
        return reply.get("result")


async def _stop(process: asyncio.subprocess.Process) -> int:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(process.wait(), STOP_GRACE)
        except TimeoutError:
            process.kill()
    return await process.wait()


@contextlib.asynccontextmanager
async def standin(log_file: Path | None = None) -> AsyncIterator[Standin]:
    """``python -m bench.standin_ext`` on a free loopback port, for the block's duration.

    Its stderr (aiohttp's complaints about connections a stopping bot drops) goes to
    ``log_file``, or nowhere.
    """
    with contextlib.ExitStack() as files:
        log = files.enter_context(log_file.open("ab")) if log_file is not None else asyncio.subprocess.DEVNULL
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.standin_ext", "--port", "0", "--token", TOKEN,
            stdout=asyncio.subprocess.PIPE, stderr=log, cwd=ROOT,
        )  # fmt: skip
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), STARTUP_TIMEOUT)).decode().strip()
        if not line.startswith("http://127.0.0.1:") or not line.endswith("/bot"):
            raise RuntimeError(f"unexpected stand-in output: {line!r}")
        api = Standin(line.removesuffix("/bot"), process.pid)
        await api.open()
        try:
            yield api
        finally:
            await api.close()
    finally:
        await _stop(process)


class BotProcess:
    """The project's bot (``python -m back_care_guide run``) or the echo bot, against a stand-in.

    ``kind``: "project", "echo" (PTB's default HTTP client) or "echo-aiohttp" (the echo
    bot with the project's aiohttp client).
    """

    def __init__(self, kind: str, api: Standin, workdir: Path, extra_env: dict[str, str] | None = None
                 ) -> None:
        if kind not in {"project", "echo", "echo-aiohttp"}:
            raise ValueError(kind)
        if kind == "echo-aiohttp":  # the echo bot with the project's HTTP client: equal terms
            extra_env = {"ECHO_HTTP": "aiohttp", **(extra_env or {})}
        self.kind = kind
        self.api = api
        self.workdir = workdir
        self.log_file = workdir / f"{kind}.log"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": api.base_url,
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
            "FLOW_TIME_SCALE": "1",
            "TELEGRAM_MAX_RATE": "0",
            "LOG_LEVEL": "WARNING",
            "WEBHOOK_URL": "",
            "WEBHOOK_SECRET": "",
            **(extra_env or {}),
        }
        self.process: asyncio.subprocess.Process | None = None
        self.returncode: int | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        module = ["-m", "back_care_guide", "run"] if self.kind == "project" else ["-m", "bench.echo_bot"]
        with self.log_file.open("ab") as log:
            # cwd is a scratch folder: no developer's .env is read by the bot's settings.
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, *module, cwd=self.workdir, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.returncode is not None:
                raise RuntimeError(f"{self.kind} bot exited at start-up:\n{self.log[-2000:]}")
            if await self._ready():
                return
            await asyncio.sleep(0.1)
        doing = "polling" if self.webhook_port is None else f"its webhook (port {self.webhook_port})"
        raise RuntimeError(f"{self.kind} bot did not start {doing} within {STARTUP_TIMEOUT:g}s")

    @property
    def webhook_port(self) -> int | None:
        """The port of its webhook server (``WEBHOOK_URL`` set), or ``None``: it polls."""
        if not self.env.get("WEBHOOK_URL"):
            return None
        return int(self.env.get("WEBHOOK_PORT") or 8443)

    async def _ready(self) -> bool:
        """Polling: it has called getUpdates. Webhook: its ``/healthz`` answers 200, which it
        does once it has called setWebhook and started."""
        port = self.webhook_port
        if port is None:
            stats = await self.api.call("stats")
            return bool(stats["calls"].get("getupdates", 0) >= 1)
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2.0)) as session, \
                    session.get(f"http://127.0.0.1:{port}/healthz") as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def stop(self) -> int:
        if self.process is not None and self.returncode is None:
            self.returncode = await _stop(self.process)
        return self.returncode or 0

    async def kill(self) -> int:
        """SIGKILL at once, no grace: the process dies as in a crash."""
        if self.process is not None and self.returncode is None:
            if self.process.returncode is None:
                self.process.kill()
            self.returncode = await self.process.wait()
        return self.returncode or 0

    @property
    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    async def __aenter__(self) -> BotProcess:
        try:
            await self.start()
        except BaseException:
            await self.stop()  # never leave a half-started bot behind
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and its parts (RssAnon: heap; RssFile: mapped files) of a process, in KiB."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in {"VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"}:
            found[key] = int(value.split()[0])
    if "VmRSS" not in found:
        raise RuntimeError(f"no VmRSS for pid {pid}")
    return found


def rss_kib(pid: int) -> int:
    """Resident memory (VmRSS) of a process, in KiB."""
    return memory_kib(pid)["VmRSS"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children, living or exited (a PostgreSQL server: the
    postmaster and its backends; an exited backend's time is in the postmaster's cutime)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            child = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        values = child[child.rindex(")") + 2:].split()
        if int(values[1]) == pid:  # its parent
            ticks += int(values[11]) + int(values[12])
    return ticks / CLOCK_TICKS


class CpuMeter:
    """CPU use of some processes over a stretch of wall time (1.0 = one full core).

    ``trees``: processes counted with their children (:func:`tree_cpu_seconds`).
    """

    def __init__(self, pids: dict[str, int], trees: dict[str, int] | None = None) -> None:
        self.pids = pids
        self.trees = trees or {}
        self.started = time.monotonic()
        self.start_cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
        self.start_cpu.update({name: tree_cpu_seconds(pid) for name, pid in self.trees.items()})
        self.start_self = time.process_time()

    def read(self) -> dict[str, float]:
        wall = max(time.monotonic() - self.started, 1e-9)
        use = {name: (cpu_seconds(pid) - self.start_cpu[name]) / wall for name, pid in self.pids.items()}
        use.update({name: (tree_cpu_seconds(pid) - self.start_cpu[name]) / wall
                    for name, pid in self.trees.items()})
        use["driver"] = (time.process_time() - self.start_self) / wall
        return use
