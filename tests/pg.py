"""A throwaway PostgreSQL server for tests and benchmarks.

    with PgServer.start() as server:        # initdb + pg_ctl start, in a temporary folder
        url = server.create_database("app")  # postgresql://postgres@127.0.0.1:PORT/app
        ...
                                             # stopped and removed here, also on an error

* **Binaries**: ``$PG_BIN`` if set, else the newest ``/usr/lib/postgresql/*/bin`` (Debian's
  layout), else ``pg_config --bindir``, else ``initdb`` on ``PATH``. :func:`find_bindir`
  returns ``None`` when there are none (the pytest fixtures skip then, except in CI).
* **Who runs it**: PostgreSQL refuses to run as root, so as root ``initdb`` and ``pg_ctl`` run
  as the ``postgres`` user (``runuser``) on a folder it owns; otherwise as the current user.
* **Where it listens**: ``127.0.0.1`` only, on a free port, with ``trust`` authentication for
  ``127.0.0.1/32`` and no Unix socket. The superuser is called ``postgres`` either way.
* **Bounded**: starting waits at most ``start_timeout`` seconds (the server log's tail is in
  the error); stopping asks for a fast shutdown, then an immediate one, then kills it.
* **Nothing left behind**: a small watchdog process holds a pipe from this one; if this
  process dies without stopping the server (SIGKILL, a crash, a CI timeout), the pipe closes
  and the watchdog stops the server and removes the folder.

Durability is off by default (``fsync=off``: a test's data need not survive a power cut),
which makes initdb, CREATE DATABASE and commits faster; ``durable=True`` keeps the server's
defaults (the benchmark uses that).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

SUPERUSER = "postgres"
HOST = "127.0.0.1"
START_TIMEOUT = 60.0  # seconds for pg_ctl start -w (a cold start takes well under one)
STOP_TIMEOUT = 15.0  # seconds for each way of stopping it
PORT_TRIES = 3  # another process may take the free port between choosing and binding

# Settings for a disposable server: small, quiet, local.
BASE_SETTINGS = {
    "listen_addresses": f"'{HOST}'",
    "unix_socket_directories": "''",
    "max_connections": "400",  # three replicas with their pools, and the tests beside them
    "shared_buffers": "'32MB'",
    "logging_collector": "off",
    "log_min_messages": "warning",
    "timezone": "'UTC'",
}
FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}

# The watchdog: reads its stdin (a pipe from the test process) until EOF, then, if the
# server's folder is still there, stops the server and removes the folder.
WATCHDOG = r"""
import os, shutil, subprocess, sys
pg_ctl, data, root, user = sys.argv[1:5]
while sys.stdin.buffer.read(4096):
    pass
if os.path.isdir(data):
    cmd = [pg_ctl, "-D", data, "-m", "immediate", "-w", "-t", "10", "stop"]
    if user:
        cmd = ["runuser", "-u", user, "--"] + cmd
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
shutil.rmtree(root, ignore_errors=True)
"""


class PgError(RuntimeError):
    """The throwaway server could not be set up, started or used."""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _has_server(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres"))


def _version_key(bindir: str) -> tuple[int, ...]:
    """``/usr/lib/postgresql/15/bin`` → ``(15,)``; a name that is not a version sorts first."""
    name = Path(bindir).parent.name
    return tuple(int(part) for part in name.split(".")) if re.fullmatch(r"\d+(\.\d+)*", name) else (-1,)


def find_bindir() -> Path | None:
    """The folder with ``initdb``, ``pg_ctl`` and ``postgres``, or ``None``.

    ``$PG_BIN`` wins; if it is set but lacks the programs, that is an error rather than a
    silent fallback (someone meant it).
    """
    configured = os.environ.get("PG_BIN", "").strip()
    if configured:
        path = Path(configured)
        if not _has_server(path):
            raise PgError(f"PG_BIN={configured} has no initdb, pg_ctl and postgres")
        return path
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        if _has_server(Path(candidate)):
            return Path(candidate)
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                 timeout=10, check=True).stdout.strip()
            if out and _has_server(Path(out)):
                return Path(out)
    initdb = shutil.which("initdb")
    if initdb and _has_server(Path(initdb).parent):
        return Path(initdb).parent
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty server log)"


class PgServer:
    """One running throwaway server; use :meth:`start` (a context manager as well)."""

    def __init__(self, bindir: Path, root: Path, user: str | None) -> None:
        self.bindir = bindir
        self.root = root  # the temporary folder: data/, server.log
        self.data = root / "data"
        self.log = root / "server.log"
        self.user = user  # whom to run the programs as (root → "postgres"), or None: ourselves
        self.port = 0
        self.started_in = 0.0  # seconds initdb + start took
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._running = False
        self._stopped = False

    # ------------------------------------------------------------------ starting

    @classmethod
    def start(cls, bindir: Path | None = None, *, durable: bool = False,
              start_timeout: float = START_TIMEOUT, settings: dict[str, str] | None = None,
              ) -> PgServer:
        """initdb into a new temporary folder and start the server on a free port.

        Raises :class:`PgError` (with the server log's tail) if it does not come up within
        ``start_timeout`` seconds; the folder is removed then too.
        """
        began = time.perf_counter()
        found = bindir or find_bindir()
        if found is None:
            raise PgError("no PostgreSQL server binaries: set PG_BIN, or install postgresql "
                          "(Debian: apt-get install postgresql)")
        user = cls._run_as()
        root = cls._make_root(user)
        server = cls(found, root, user)
        try:
            server._start_watchdog()
            server._initdb()
            config = {**BASE_SETTINGS, **({} if durable else FAST_SETTINGS), **(settings or {})}
            server._start(config, start_timeout)
        except BaseException:
            server.stop()
            raise
        server.started_in = time.perf_counter() - began
        return server

    @staticmethod
    def _run_as() -> str | None:
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError:
            raise PgError("running as root, and PostgreSQL refuses root, but there is no "
                          f"'{SUPERUSER}' user to run it as (installing the postgresql "
                          "package creates one)") from None
        if shutil.which("runuser") is None:
            raise PgError("running as root without runuser (util-linux) to become "
                          f"'{SUPERUSER}'")
        return SUPERUSER

    @staticmethod
    def _make_root(user: str | None) -> Path:
        """A new temporary folder the server's user owns (and can reach)."""
        bases = [Path(tempfile.gettempdir())]
        if user is not None and bases[0] != Path("/tmp"):
            bases.append(Path("/tmp"))  # $TMPDIR may be inside root's home, closed to postgres
        problem = ""
        for base in bases:
            root = Path(tempfile.mkdtemp(prefix="pgtest-", dir=base))
            if user is None:
                return root
            entry = pwd.getpwnam(user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
            check = subprocess.run(["runuser", "-u", user, "--", "test", "-w", str(root)],
                                   capture_output=True, timeout=10, check=False)
            if check.returncode == 0:
                return root
            problem = f"'{user}' cannot write to {root}"
            shutil.rmtree(root, ignore_errors=True)
        raise PgError(f"no temporary folder for the server: {problem}")

    def _cmd(self, program: str, *args: str) -> list[str]:
        cmd = [str(self.bindir / program), *args]
        return ["runuser", "-u", self.user, "--", *cmd] if self.user else cmd

    def _run(self, cmd: Sequence[str], timeout: float, what: str) -> None:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise PgError(f"{what} took longer than {timeout:g} s\n{_tail(self.log)}") from None
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip()
            raise PgError(f"{what} failed (exit {done.returncode}): {output[-2000:]}\n"
                          f"server log:\n{_tail(self.log)}")

    def _start_watchdog(self) -> None:
        # Its own session: a signal to the test run's process group does not reach it, so it
        # outlives a killed test run long enough to clean up after it.
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", WATCHDOG, str(self.bindir / "pg_ctl"), str(self.data),
             str(self.root), self.user or ""],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

    def _initdb(self) -> None:
        self._run(self._cmd("initdb", "-D", str(self.data), "-U", SUPERUSER, "-A", "trust",
                            "-E", "UTF8", "--locale=C", "--no-sync"),
                  timeout=120, what="initdb")
        # Only TCP from 127.0.0.1, trusted; nothing else (no Unix socket is opened either).
        (self.data / "pg_hba.conf").write_text(
            "# throwaway test server (tests/pg.py): loopback only\n"
            f"host all all {HOST}/32 trust\n", encoding="utf-8")

    def _start(self, config: dict[str, str], timeout: float) -> None:
        conf = self.data / "postgresql.conf"
        base = conf.read_text(encoding="utf-8")
        for attempt in range(PORT_TRIES):
            self.port = free_port()
            lines = [f"{key} = {value}" for key, value in {**config, "port": str(self.port)}.items()]
            conf.write_text(base + "\n# tests/pg.py\n" + "\n".join(lines) + "\n", encoding="utf-8")
            # The log file is created by us and handed over: pg_ctl opens it as its user.
            self.log.touch()
            if self.user:
                entry = pwd.getpwnam(self.user)
                os.chown(self.log, entry.pw_uid, entry.pw_gid)
            try:
                self._run(self._cmd("pg_ctl", "-D", str(self.data), "-l", str(self.log),
                                    "-w", "-t", str(max(1, round(timeout))), "start"),
                          timeout=timeout + 10, what="pg_ctl start")
            except PgError:
                log = _tail(self.log, 50)
                if attempt + 1 < PORT_TRIES and "could not bind" in log and not self._pid():
                    continue  # the port was taken meanwhile: another one
                raise
            self._running = True
            return

    # ------------------------------------------------------------------ using

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{dbname}"

    def execute(self, *statements: str) -> None:
        """Run statements (each on its own, outside a transaction) as the superuser."""
        import psycopg

        try:
            with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
                for statement in statements:
                    conn.execute(statement.encode())
        except psycopg.Error as exc:
            raise PgError(f"{statements[0] if statements else ''}: {exc}") from exc

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create ``name`` (a copy of ``template`` if given) and return its URL."""
        _check_name(name)
        sql = f'CREATE DATABASE "{name}"'
        if template is not None:
            _check_name(template)
            sql += f' TEMPLATE "{template}"'
        self.execute(sql)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        _check_name(name)
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # ------------------------------------------------------------------ stopping

    def _pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        """Stop the server and remove its folder; safe to call more than once. Bounded:
        a fast shutdown, then an immediate one, then SIGKILL."""
        if self._stopped:
            return
        self._stopped = True
        try:
            if self._pid() is not None:
                for mode in ("fast", "immediate"):
                    with contextlib.suppress(PgError):
                        self._run(self._cmd("pg_ctl", "-D", str(self.data), "-m", mode, "-w",
                                            "-t", str(round(STOP_TIMEOUT)), "stop"),
                                  timeout=STOP_TIMEOUT + 5, what=f"pg_ctl stop -m {mode}")
                        break
                else:
                    pid = self._pid()
                    if pid is not None and _is_postgres(pid):
                        with contextlib.suppress(OSError):
                            os.kill(pid, signal.SIGKILL)
            self._running = False
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            if self._watchdog is not None:
                # Closing the pipe lets the watchdog go; it finds nothing left to do.
                with contextlib.suppress(OSError):
                    if self._watchdog.stdin is not None:
                        self._watchdog.stdin.close()
                try:
                    self._watchdog.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self._watchdog.kill()
                    self._watchdog.wait()

    @property
    def running(self) -> bool:
        return self._running

    def __enter__(self) -> PgServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _check_name(name: str) -> None:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"not a plain database name: {name!r}")


def _is_postgres(pid: int) -> bool:
    """Whether ``pid`` is still a postgres process (not a recycled pid)."""
    try:
        return b"postgres" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
