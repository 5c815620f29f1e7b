"""The SQLite file's safety: one writer, our schema only, one-line errors, a vanished file noticed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from back_care_guide.store import StoreError
from back_care_guide.store.sqlite import SCHEMA_VERSION, SqliteStore, lock_path

ROOT = Path(__file__).resolve().parents[1]


def url(path: Path) -> str:
    return f"sqlite:///{path}"


def one_line(error: StoreError | str, path: Path | None = None) -> str:
    text = str(error)
    assert "\n" not in text.strip() and "Traceback" not in text
    assert "DATABASE_URL" in text
    if path is not None:
        assert str(path) in text
    return text


def foreign_file(path: Path) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute("CREATE TABLE conversations (user_id INTEGER PRIMARY KEY, notes TEXT)")
        db.execute("INSERT INTO conversations VALUES (1, 'someone else''s data')")
    db.close()


# ---------------------------------------------------------------- in this process


async def test_a_second_store_on_the_same_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    first = SqliteStore.from_url(url(path))
    with pytest.raises(StoreError) as refused:
        SqliteStore.from_url(url(path))
    text = one_line(refused.value, path)
    assert "in use by another bot process" in text and f"pid {os.getpid()}" in text
    await first.close()
    again = SqliteStore.from_url(url(path))  # closing released the lock
    await again.close()
    assert lock_path(path).exists()  # the lock file stays; only the lock on it goes


async def test_the_lock_survives_the_database_being_replaced(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    first = SqliteStore(path)
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")
    with pytest.raises(StoreError, match="in use"):  # a new file at the path is still guarded
        SqliteStore(path)
    await first.close()


async def test_a_foreign_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    foreign_file(path)
    before = path.read_bytes()
    with pytest.raises(StoreError) as refused:
        SqliteStore.from_url(url(path))
    assert "not made by this bot" in one_line(refused.value, path)
    assert path.read_bytes() == before

async def test_refusals_release_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    foreign_file(path)
    for _ in range(2):  # ...so the same refusal comes again, not "in use"
        with pytest.raises(StoreError, match="not made by this bot"):
            SqliteStore(path)


@pytest.mark.parametrize("make", ["meta_without_version", "version_not_a_number", "meta_of_other_shape"])
async def test_a_database_without_our_marker_is_refused(tmp_path: Path, make: str) -> None:
    path = tmp_path / "bot.db"
    db = sqlite3.connect(path)
    with db:
        if make == "meta_of_other_shape":
            db.execute("CREATE TABLE meta (a, b)")
        else:
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        if make == "version_not_a_number":
            db.execute("INSERT INTO meta VALUES ('schema_version', 'two')")
    db.close()
    with pytest.raises(StoreError, match="not made by this bot"):
        SqliteStore(path)


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = SqliteStore(path)
    await store.close()
    db = sqlite3.connect(path)
    with db:  # what a newer bot writes when it migrates
        db.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'later', 0)",
                   (SCHEMA_VERSION + 1,))
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    db.close()
    with pytest.raises(StoreError) as refused:
        SqliteStore.from_url(url(path))
    assert f"schema version {SCHEMA_VERSION + 1}, newer" in one_line(refused.value, path)


async def test_our_own_and_new_databases_open(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = SqliteStore(path)
    await store.close()
    store = SqliteStore(path)  # reopened: same marker, same version
    assert store.migrated == ()
    await store.close()
    db = sqlite3.connect(path)
    version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    db.close()
    assert version == (str(SCHEMA_VERSION),)
    memory = SqliteStore(":memory:")  # no file, no lock, no watching
    assert memory.check_file()
    await memory.close()


@pytest.mark.parametrize("case", ["not_a_database", "a_directory", "parent_is_a_file", "not_sqlite_url"])
async def test_every_open_error_is_one_line(tmp_path: Path, case: str) -> None:
    path = tmp_path / "bot.db"
    database_url = url(path)
    if case == "not_a_database":
        path.write_bytes(b"this is a text file, not a database\n" * 200)
    elif case == "a_directory":
        path.mkdir()
    elif case == "parent_is_a_file":
        (tmp_path / "file").write_text("x")
        path = tmp_path / "file" / "bot.db"
        database_url = url(path)
    else:
        database_url = "postgresql://bot:secret-password@db/back_care"
    with pytest.raises(StoreError) as refused:
        SqliteStore.from_url(database_url)
    text = one_line(refused.value)
    assert "secret-password" not in text
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
async def test_an_unreadable_folder_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0)
    try:
        with pytest.raises(StoreError) as refused:
            SqliteStore(folder / "bot.db")
        one_line(refused.value, folder / "bot.db")
    finally:
        folder.chmod(0o755)


@pytest.fixture
async def watched(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore.from_url(url(tmp_path / "bot.db"), watch_interval=0.02)
    yield store
    await store.close()


async def test_a_deleted_database_is_logged_once_as_critical(
        watched: SqliteStore, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with watched.transaction() as tx:  # the first use arms the watch on this loop
        await tx.timers.pending()
    await asyncio.sleep(0.1)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    (tmp_path / "bot.db").unlink()
    await asyncio.sleep(0.2)  # ten checks
    async with watched.transaction() as tx:  # the store still works (on the unlinked file)
        await tx.sessions.since(1, 0)
    critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(critical) == 1
    message = critical[0].getMessage()
    assert "was deleted" in message and f"DATABASE_URL=sqlite:///{tmp_path / 'bot.db'}" in message


async def test_a_replaced_database_is_logged_once_as_critical(
        watched: SqliteStore, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with watched.transaction() as tx:
        await tx.sessions.since(1, 0)
    path = tmp_path / "bot.db"
    path.rename(tmp_path / "moved.db")
    path.write_bytes(b"")  # something else at the path now
    await asyncio.sleep(0.2)
    critical = [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(critical) == 1 and "replaced by another file" in critical[0]
    assert not watched.check_file() and len(caplog.records) == 1  # still only logged once


async def test_the_watch_stops_on_close(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "bot.db"
    store = SqliteStore(path, watch_interval=0.02)
    async with store.transaction() as tx:
        await tx.timers.pending()
    await store.close()
    path.unlink()
    await asyncio.sleep(0.1)
    assert caplog.records == []


# ---------------------------------------------------------------- the command line


def bot_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "DATABASE_URL")}
    return {**env, "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url}


async def run_bot(database_url: str, *args: str, cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "back_care_guide", *args, cwd=cwd, env=bot_env(database_url),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(b""), 60)  # EOF: a chat ends at once
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def assert_refused(code: int, err: str, path: Path | None = None) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: DATABASE_URL")
    return one_line(lines[0], path)


async def test_a_second_chat_on_the_same_database_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "data" / "bot.db"
    first = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "back_care_guide", "chat", cwd=tmp_path, env=bot_env(url(path)),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        assert first.stdout is not None and first.stdin is not None
        greeting = await asyncio.wait_for(first.stdout.readline(), 60)  # running: it said hello
        assert greeting.strip()
        code, _, err = await run_bot(url(path), "chat", cwd=tmp_path)
        text = assert_refused(code, err, path)
        assert f"pid {first.pid}" in text
        first.stdin.close()  # EOF ends the first chat cleanly
        assert await asyncio.wait_for(first.wait(), 30) == 0
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
    code, _, err = await run_bot(url(path), "chat", cwd=tmp_path)  # the lock went with it
    assert code == 0, err


async def test_a_foreign_file_is_refused_by_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    foreign_file(path)
    code, _, err = await run_bot(url(path), "chat", cwd=tmp_path)
    assert "not made by this bot" in assert_refused(code, err, path)


@pytest.mark.parametrize("case", ["not_a_database", "parent_is_a_file"])
async def test_an_invalid_path_is_one_line_without_traceback(tmp_path: Path, case: str) -> None:
    if case == "not_a_database":
        path = tmp_path / "bot.db"
        path.write_bytes(b"plain text\n" * 500)
    else:
        (tmp_path / "file").write_text("x")
        path = tmp_path / "file" / "bot.db"
    code, _, err = await run_bot(url(path), "chat", cwd=tmp_path)
    assert_refused(code, err, path)
