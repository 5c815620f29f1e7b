"""The store on one SQLite file.

Statements run synchronously on the event loop's thread: a transaction is a few indexed
statements on a local WAL database (tens of microseconds), which is cheaper than handing
every one to a worker thread. A networked database (PostgreSQL) implements the same
interface with an async driver. There is one connection, so one transaction at a time: an
``asyncio.Lock`` makes a second one wait for the first to end (in practice it never waits:
a transaction's body only calls the repositories, which never yield to the loop).

Safety of the file (the bot is its only writer):

* **One process per file.** Opening takes an exclusive ``flock`` on ``<db>.lock`` next to
  the database and holds it until :meth:`SqliteStore.close` (in practice, for the life of
  the process; the kernel drops it if the process dies, however it dies). A second bot on
  the same file is refused with :class:`~back_care_guide.store.errors.StoreError`. The lock is on a
  file of its own, not on the database: SQLite's own POSIX locks on the database and its
  ``-wal``/``-shm`` files must stay SQLite's (they are per process, and closing any other
  descriptor of the file would drop them), and a lock file outlives the database being
  deleted or replaced, so a copy put in its place is still guarded. Readers such as the
  ``sqlite3`` shell or a ``.backup`` are not affected. The lock file is never deleted
  (deleting it would let two processes each hold a lock on a different file).
* **A file without our marker is refused.** A database that has tables but neither a
  ``schema_migrations`` table nor ``meta.schema_version`` (someone else's SQLite file), or
  a version newer than :data:`SCHEMA_VERSION`, is never written to. An older one is
  migrated (see :mod:`back_care_guide.store.migrations`).
* **The file vanishing is noticed.** Every :data:`WATCH_INTERVAL` seconds (a timer on the
  running event loop, armed by the first call) the path is compared with the file that is
  open (device and inode). If the file was deleted or replaced, everything the bot writes
  from then on goes to a file nobody can open again, so this is logged once as CRITICAL.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sqlite3
import time
from pathlib import Path
from types import TracebackType

from back_care_guide.store.coordination import SingleProcess
from back_care_guide.store.errors import StoreError
from back_care_guide.store.migrations import MIGRATIONS_TABLE, Migration, pending
from back_care_guide.store.records import StoreLocation
from back_care_guide.store.sqlite.migrations import MIGRATIONS, SCHEMA_VERSION
from back_care_guide.store.sqlite.repositories import SqliteTransaction

log = logging.getLogger(__name__)

#: Seconds between two checks that the database file is still the one that is open.
WATCH_INTERVAL = 5.0


def sqlite_path(database_url: str) -> Path:
    """``sqlite:///relative/file.db`` or ``sqlite:////absolute/file.db`` → a path."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        raise ValueError("DATABASE_URL must start with sqlite:/// (other databases come later)")
    return Path(database_url[len(prefix):])


def lock_path(path: Path) -> Path:
    """The lock file that makes one process the only writer of ``path``."""
    return path.with_name(path.name + ".lock")


SINGLE_PROCESS = SingleProcess()


class SqliteStore:
    """The project store on one SQLite file (see the module docstring for its safety rules).

    Opening migrates the database to :data:`SCHEMA_VERSION` (:attr:`migrated` lists what
    that applied). Raises :class:`~back_care_guide.store.errors.StoreError` (one line naming
    ``DATABASE_URL``) if the file cannot be used: another process has it, it is not a
    database, not ours, newer than this code, or cannot be created or opened.
    """

    def __init__(self, path: Path | str, *, url: str | None = None,
                 watch_interval: float = WATCH_INTERVAL) -> None:
        path = Path(path)
        self._path = path
        self._url = url or f"sqlite:///{path}"
        self._lock_fd: int | None = None
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the open file
        self._watch_interval = watch_interval
        self._watch_loop: asyncio.AbstractEventLoop | None = None
        self._watch_handle: asyncio.TimerHandle | None = None
        self._file_lost = False
        self._closed = False
        self.migrated: tuple[Migration, ...] = ()
        memory = str(path) == ":memory:"
        if not memory:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise self._error(f"cannot create the folder {path.parent} ({_reason(exc)})") from None
            self._lock()
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            self._unlock()
            raise self._error(_sqlite_reason(exc)) from None
        try:
            self._open()
            if not memory:
                st = os.stat(path)
                self._identity = (st.st_dev, st.st_ino)
        except StoreError:
            self._abandon()
            raise
        except (sqlite3.Error, OSError) as exc:
            self._abandon()
            raise self._error(_sqlite_reason(exc) if isinstance(exc, sqlite3.Error)
                              else _reason(exc)) from None
        self._unit_of_work = UnitOfWork(self._db)

    def _error(self, reason: str) -> StoreError:
        return StoreError(f"DATABASE_URL={self._url}: {reason}")

    def _lock(self) -> None:
        """Become the only process with this file open, or raise :class:`StoreError`."""
        lock = lock_path(self._path)
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise self._error(f"cannot open the lock file {lock} ({_reason(exc)})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = ""
            with contextlib.suppress(OSError, ValueError):
                holder = f" (pid {int(os.pread(fd, 32, 0).decode().strip())})"
            os.close(fd)
            if isinstance(exc, BlockingIOError):
                raise self._error(f"the database is in use by another bot process{holder}; "
                                  "only one process may use a SQLite file") from None
            raise self._error(f"cannot lock {lock} ({_reason(exc)})") from None
        with contextlib.suppress(OSError):  # the pid is only a hint for the message above
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def _abandon(self) -> None:
        """Undo a half-done open."""
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        self._unlock()

    def _open(self) -> None:
        db = self._db
        db.execute("PRAGMA busy_timeout=5000")
        # Look before writing anything: an empty file becomes ours, a file with tables must
        # already be ours (carry our schema-version marker) and not be newer than this code.
        names = {name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")}
        version = self._version(names) if names else 0
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        # A small page cache: hot rows are the active users', and the OS caches the file.
        db.execute("PRAGMA cache_size=-512")
        self._migrate(version, adopt=MIGRATIONS_TABLE not in names)

    def _version(self, names: set[str]) -> int:
        """The schema version of a database that has tables; raises if it is not ours or newer."""
        if MIGRATIONS_TABLE in names:
            (version,) = self._db.execute(f"SELECT MAX(version) FROM {MIGRATIONS_TABLE}").fetchone()
            version = version or 0
        else:
            version = self._version_before_migrations(names)
        if version > SCHEMA_VERSION:
            raise self._error(f"the database has schema version {version}, newer than this "
                              f"bot's {SCHEMA_VERSION}; run the newer bot (or a backup made "
                              "for this version)")
        return int(version)

    def _version_before_migrations(self, names: set[str]) -> int:
        """``meta.schema_version``, where databases kept their version before ``schema_migrations``."""
        foreign = self._error("this SQLite file was not made by this bot (it has tables but no "
                              "schema version); point DATABASE_URL at the bot's own database "
                              "or at a new file")
        if "meta" not in names:
            raise foreign
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError:  # a "meta" table of some other shape
            raise foreign from None
        try:
            return int(row[0])
        except (TypeError, ValueError):  # no row, or not a number
            raise foreign from None

    def _migrate(self, version: int, *, adopt: bool) -> None:
        """Bring the database from ``version`` up to :data:`SCHEMA_VERSION`, in one transaction.

        ``adopt``: the database predates ``schema_migrations``; the table is created and lists
        the versions it already had (with no time: they were applied before it existed).
        ``meta.schema_version`` is kept up to date for older bots, which read only that and
        so refuse a database newer than themselves.
        """
        todo = pending(MIGRATIONS, version)
        if not todo and not adopt:
            return
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if adopt:
                db.execute(f"CREATE TABLE {MIGRATIONS_TABLE} (version INTEGER PRIMARY KEY,"
                           " name TEXT NOT NULL, applied_at REAL)")
                db.executemany(f"INSERT INTO {MIGRATIONS_TABLE} (version, name) VALUES (?, ?)",
                               [(m.version, m.name) for m in MIGRATIONS[:version]])
            for migration in todo:
                for statement in migration.statements:
                    db.execute(statement)
                db.execute(f"INSERT INTO {MIGRATIONS_TABLE} (version, name, applied_at)"
                           " VALUES (?, ?, ?)", (migration.version, migration.name, time.time()))
            db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
                       " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # a failed COMMIT may have ended it
                db.execute("ROLLBACK")
            raise
        self.migrated = tuple(todo)

    @classmethod
    def from_url(cls, database_url: str, *, watch_interval: float = WATCH_INTERVAL) -> SqliteStore:
        try:
            path = sqlite_path(database_url)
        except ValueError as exc:  # the URL itself is not echoed: it may hold a password
            raise StoreError(str(exc)) from None
        return cls(path, url=database_url, watch_interval=watch_interval)

    @property
    def schema_version(self) -> int:
        return SCHEMA_VERSION

    @property
    def location(self) -> StoreLocation:
        if self._identity is None:
            return StoreLocation(str(self._path), None)
        path = self._path.absolute()
        return StoreLocation(str(path), path.parent)

    @property
    def coordination(self) -> SingleProcess:
        """Nothing to agree on: the lock file lets one process at a time open the database."""
        return SINGLE_PROCESS

    def transaction(self) -> UnitOfWork:
        self._watch()
        return self._unit_of_work

    # ----------------------------------------------------------------- watching the file

    def check_file(self) -> bool:
        """Whether the path still names the open database file; logs CRITICAL (once) if not."""
        if self._identity is None:
            return True
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            problem = "was deleted"
        except OSError as exc:
            problem = f"cannot be checked ({_reason(exc)})"
        else:
            if (st.st_dev, st.st_ino) == self._identity:
                return True
            problem = "was replaced by another file"
        if not self._file_lost:
            self._file_lost = True
            log.critical(
                "the database file %s %s while the bot is running: what it writes from now on "
                "is lost when it stops; stop the bot and put the file back, with its -wal file "
                "(DATABASE_URL=%s)", self._path, problem, self._url)
        return False

    def _watch(self) -> None:
        """Arm the periodic :meth:`check_file` on the running loop (once per loop)."""
        if self._identity is None or self._closed or self._file_lost:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._watch_loop is loop and self._watch_handle is not None:
            return
        self._watch_loop = loop
        self._watch_handle = loop.call_later(self._watch_interval, self._watch_tick)

    def _watch_tick(self) -> None:
        self._watch_handle = None
        if not self._closed and self.check_file():
            self._watch()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._watch_handle is not None:
            self._watch_handle.cancel()
            self._watch_handle = None
        self._db.close()
        self._unlock()


class UnitOfWork:
    """``async with store.transaction() as tx``: BEGIN, then COMMIT, or ROLLBACK if the block
    raised. One object per store, used by every transaction in turn: the lock makes a second
    transaction wait until the first has ended. (A class, not a generator-based context
    manager: this is on every event's path, where that cost about 20 µs more per save.)"""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._repositories = SqliteTransaction(db)
        self._one_at_a_time = asyncio.Lock()

    async def __aenter__(self) -> SqliteTransaction:
        await self._one_at_a_time.acquire()
        try:
            self._db.execute("BEGIN")
        except BaseException:
            self._one_at_a_time.release()
            raise
        return self._repositories

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        db = self._db
        try:
            if kind is None:
                db.execute("COMMIT")
        finally:
            try:
                if db.in_transaction:  # the block raised, or COMMIT failed (a full disk)
                    db.execute("ROLLBACK")
            finally:
                self._one_at_a_time.release()


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _sqlite_reason(exc: sqlite3.Error) -> str:
    """One line for what SQLite said (its messages name no data, only the problem)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if text == "file is not a database":
        return "the file is not a SQLite database"
    if text == "unable to open database file":
        return "cannot open the database file (does the folder exist, and may the bot write to it?)"
    if text.startswith("database is locked"):
        return "the database is locked by another program"
    return text
