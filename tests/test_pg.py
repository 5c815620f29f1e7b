"""The throwaway PostgreSQL of tests/pg.py: it starts, takes connections with the bot's driver
(psycopg 3) on loopback only, gives each test a database of its own, and leaves nothing behind,
whether it is stopped, fails to start or its process is killed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from tests.pg import HOST, PgError, PgServer, find_bindir

ROOT = Path(__file__).resolve().parents[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z")


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((HOST, port)) != 0


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


async def test_the_server_takes_async_connections_on_loopback_only(postgres_url: str) -> None:
    assert postgres_url.startswith(f"postgresql://postgres@{HOST}:") and postgres_url.endswith("/test")
    async with await psycopg.AsyncConnection.connect(postgres_url) as conn:
        cur = await conn.execute("SELECT current_database(), current_setting('listen_addresses'),"
                                 " current_setting('unix_socket_directories'), %s::int + 1", (41,))
        assert await cur.fetchone() == ("test", HOST, "", 42)


def test_a_fresh_database_is_empty_and_its_own(postgres_server: PgServer, postgres_url: str,
                                               fresh_postgres_url: str, postgres_template: str) -> None:
    with psycopg.connect(fresh_postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE marker (n int)")
        conn.execute("INSERT INTO marker VALUES (1)")
    other = postgres_server.create_database("test_other", template=postgres_template)
    try:
        for url in (other, postgres_url, postgres_server.url(postgres_template)):
            with psycopg.connect(url) as conn:
                found = conn.execute("SELECT to_regclass('marker')").fetchone()
                assert found == (None,), url
    finally:
        postgres_server.drop_database("test_other")
    with psycopg.connect(postgres_server.url()) as conn:
        names = {name for (name,) in conn.execute("SELECT datname FROM pg_database")}
    assert "test_other" not in names and fresh_postgres_url.rsplit("/", 1)[1] in names


def test_stop_removes_everything(postgres_bindir: Path) -> None:
    server = PgServer.start(postgres_bindir)
    pid = server._pid()
    assert pid is not None and server.running and server.root.is_dir()
    with psycopg.connect(server.url(), connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    server.stop()
    assert not server.root.exists()
    assert not _alive(pid)
    assert _refused(server.port)
    assert server._watchdog is not None and server._watchdog.returncode is not None
    server.stop()  # a second stop is harmless


def test_a_killed_test_run_leaves_no_server_behind(postgres_bindir: Path) -> None:
    """The watchdog stops the server and removes its folder when its owner dies unannounced."""
    code = ("import sys, time; from pathlib import Path; from tests.pg import PgServer; "
            "s = PgServer.start(Path(sys.argv[1])); print(s.root, s.port, s._pid(), flush=True); "
            "time.sleep(120)")
    with subprocess.Popen([sys.executable, "-c", code, str(postgres_bindir)], cwd=ROOT,
                          stdout=subprocess.PIPE, text=True) as owner:
        try:
            assert owner.stdout is not None
            root, port, pid = owner.stdout.readline().split()
        finally:
            owner.kill()
    assert _wait_for(lambda: not Path(root).exists() and not _alive(int(pid)), timeout=30)
    assert _refused(int(port))


def test_a_server_that_cannot_start_says_why_and_is_removed(postgres_bindir: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    mkdtemp = tempfile.mkdtemp

    def recording_mkdtemp(prefix: str, dir: Path) -> str:  # the folder the server gets
        made.append(mkdtemp(prefix=prefix, dir=dir))
        return made[-1]

    monkeypatch.setattr(tempfile, "mkdtemp", recording_mkdtemp)
    with pytest.raises(PgError, match="pg_ctl start failed") as failed:
        PgServer.start(postgres_bindir, settings={"shared_buffers": "'plenty'"}, start_timeout=20)
    assert "shared_buffers" in str(failed.value)  # the server log's tail is in the message
    assert made and not any(Path(path).exists() for path in made)


def test_pg_bin_is_honoured_and_checked(postgres_bindir: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PG_BIN", str(postgres_bindir))
    assert find_bindir() == postgres_bindir
    monkeypatch.setenv("PG_BIN", str(tmp_path))
    with pytest.raises(PgError, match="PG_BIN"):
        find_bindir()


def test_the_store_cost_benchmark_runs(postgres_bindir: Path) -> None:
    """``python -m bench.store_cost``, tiny: every row is measured (the figures are not checked)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PG_BIN": str(postgres_bindir)}
    done = subprocess.run(
        [sys.executable, "-m", "bench.store_cost", "--users", "10", "--events", "40", "--warmup", "8"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith(("sqlite3", "postgres"))]
    assert len(rows) == 9 and all(row.split()[-1].replace(",", "").isdigit() for row in rows), done.stdout
