"""SQLite store.

Calls run synchronously on the event loop's thread: each is a single indexed statement
or a short transaction on a local WAL database (tens of microseconds), which is cheaper
than handing every write to a worker thread. A networked database (PostgreSQL) would
implement the same interface with an async driver.

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
* **A file without our marker is refused.** A database that has tables but no
  ``meta.schema_version`` (someone else's SQLite file), or a version newer than
  :data:`SCHEMA_VERSION`, is never written to.
* **The file vanishing is noticed.** Every :data:`WATCH_INTERVAL` seconds (a timer on the
  running event loop, armed by the first call) the path is compared with the file that is
  open (device and inode). If the file was deleted or replaced, everything the bot writes
  from then on goes to a file nobody can open again, so this is logged once as CRITICAL.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from back_care_guide.engine.events import LogSession, Prompt, Timer
from back_care_guide.reminders.store import SCHEMA as REMINDERS_SCHEMA
from back_care_guide.store.base import PendingTimer
from back_care_guide.store.errors import StoreError
from back_care_guide.store.records import Conversation, Profile, SafetyEvent, SafetyHold

log = logging.getLogger(__name__)

#: Seconds between two checks that the database file is still the one that is open.
WATCH_INTERVAL = 5.0

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS conversations (
    user_id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    ctx TEXT NOT NULL,
    prompt TEXT,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS timers (
    user_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    due REAL NOT NULL,
    epoch INTEGER NOT NULL,
    PRIMARY KEY (user_id, kind)
);
CREATE INDEX IF NOT EXISTS timers_due ON timers (due);
CREATE TABLE IF NOT EXISTS sessions (
    user_id INTEGER NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL NOT NULL,
    outcome TEXT NOT NULL,
    pain_before INTEGER,
    pain_after INTEGER
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id, started_at);
CREATE TABLE IF NOT EXISTS profiles (
    user_id INTEGER PRIMARY KEY,
    language TEXT,
    country TEXT,
    locked_sign TEXT,
    timezone TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    extra TEXT NOT NULL DEFAULT '{}'
);
"""

# Schema changes, applied in order to a database of an older version. Each runs once.
MIGRATIONS: dict[int, str] = {
    # 2: safety outcomes that stick (flows/triage.yaml): the hold in force, lasting signs a
    # clinician has cleared, the tier that paused reminders, and the safety history.
    # An emergency lock of version 1 becomes an emergency hold that may be cleared now.
    2: """
ALTER TABLE profiles ADD COLUMN hold TEXT;
ALTER TABLE profiles ADD COLUMN cleared TEXT NOT NULL DEFAULT '{}';
ALTER TABLE profiles ADD COLUMN paused_by TEXT;
UPDATE profiles SET hold = json_object('tier', 'emergency', 'sign', locked_sign, 'since', 0,
                                       'day', '1970-01-01')
    WHERE locked_sign IS NOT NULL;
CREATE TABLE IF NOT EXISTS safety_events (
    user_id INTEGER NOT NULL,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    tier TEXT NOT NULL,
    sign TEXT NOT NULL,
    via TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS safety_events_user ON safety_events (user_id, at);
""",
}


# Every table that holds something about a user; /delete empties them all.
USER_TABLES = ("conversations", "timers", "sessions", "profiles", "reminders", "safety_events")


def sqlite_path(database_url: str) -> Path:
    """``sqlite:///relative/file.db`` or ``sqlite:////absolute/file.db`` → a path."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        raise ValueError("DATABASE_URL must start with sqlite:/// (other databases come later)")
    return Path(database_url[len(prefix):])


def lock_path(path: Path) -> Path:
    """The lock file that makes one process the only writer of ``path``."""
    return path.with_name(path.name + ".lock")


class SqliteStore:
    """The project store on one SQLite file (see the module docstring for its safety rules).

    Raises :class:`~back_care_guide.store.errors.StoreError` (one line naming ``DATABASE_URL``) if the
    file cannot be used: another process has it, it is not a database, not ours, newer
    than this code, or cannot be created or opened.
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
        if names:
            self._check_version(names)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        # A small page cache: hot rows are the active users', and the OS caches the file.
        db.execute("PRAGMA cache_size=-512")
        db.executescript(SCHEMA + REMINDERS_SCHEMA)
        db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1')")
        self._migrate()

    def _check_version(self, names: set[str]) -> None:
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
            version = int(row[0]) if row is not None else None
        except (TypeError, ValueError):
            version = None
        if version is None:
            raise foreign
        if version > SCHEMA_VERSION:
            raise self._error(f"the database has schema version {version}, newer than this "
                              f"bot's {SCHEMA_VERSION}; run the newer bot (or a backup made "
                              "for this version)")

    def _migrate(self) -> None:
        """Bring an older database up to :data:`SCHEMA_VERSION`, one version at a time."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0])
        for target in range(version + 1, SCHEMA_VERSION + 1):
            self._db.execute("BEGIN")
            try:
                for statement in MIGRATIONS[target].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                                 (str(target),))
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # a failed BEGIN or COMMIT may have ended it
                    self._db.execute("ROLLBACK")
                raise

    @classmethod
    def from_url(cls, database_url: str, *, watch_interval: float = WATCH_INTERVAL) -> SqliteStore:
        try:
            path = sqlite_path(database_url)
        except ValueError as exc:  # the URL itself is not echoed: it may hold a password
            raise StoreError(str(exc)) from None
        return cls(path, url=database_url, watch_interval=watch_interval)

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

    async def load(self, user_id: int) -> tuple[Conversation | None, Profile | None]:
        self._watch()
        db = self._db
        row = db.execute(
            "SELECT state, ctx, prompt FROM conversations WHERE user_id = ?", (user_id,)
        ).fetchone()
        conversation = None
        if row is not None:
            timers = [
                Timer(kind, due, epoch)
                for kind, due, epoch in db.execute(
                    "SELECT kind, due, epoch FROM timers WHERE user_id = ? ORDER BY due", (user_id,)
                )
            ]
            conversation = Conversation(
                user_id, row[0], json.loads(row[1]), timers, _prompt_from_json(row[2])
            )
        prow = db.execute(
            "SELECT language, country, hold, timezone, active, extra, cleared, paused_by"
            " FROM profiles WHERE user_id = ?",
            (user_id,),
        ).fetchone()
        profile = None
        if prow is not None:
            profile = Profile(user_id, prow[0], prow[1], _hold_from_json(prow[2]), prow[3],
                              bool(prow[4]), json.loads(prow[5]), json.loads(prow[6]), prow[7])
        return conversation, profile

    async def save(self, conversation: Conversation, profile: Profile) -> None:
        self._watch()
        db = self._db
        uid = conversation.user_id
        db.execute("BEGIN")
        try:
            db.execute(
                "INSERT INTO conversations (user_id, state, ctx, prompt, updated_at)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, ctx = excluded.ctx,"
                " prompt = excluded.prompt, updated_at = excluded.updated_at",
                (uid, conversation.state, json.dumps(conversation.ctx),
                 _prompt_to_json(conversation.prompt), time.time()),
            )
            db.execute("DELETE FROM timers WHERE user_id = ?", (uid,))
            if conversation.timers:
                db.executemany(
                    "INSERT INTO timers (user_id, kind, due, epoch) VALUES (?, ?, ?, ?)",
                    [(uid, t.kind, t.due, t.epoch) for t in conversation.timers],
                )
            db.execute(
                "INSERT INTO profiles (user_id, language, country, hold, timezone, active,"
                " extra, cleared, paused_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET"
                " language = excluded.language, country = excluded.country,"
                " hold = excluded.hold, timezone = excluded.timezone,"
                " active = excluded.active, extra = excluded.extra,"
                " cleared = excluded.cleared, paused_by = excluded.paused_by",
                (uid, profile.language, profile.country, _hold_to_json(profile.hold),
                 profile.timezone, int(profile.active), json.dumps(profile.extra),
                 json.dumps(profile.cleared), profile.paused_by),
            )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # a failed BEGIN or COMMIT may have ended it
                db.execute("ROLLBACK")
            raise

    async def save_prompt(self, user_id: int, prompt: Prompt | None) -> None:
        self._watch()
        self._db.execute(
            "UPDATE conversations SET prompt = ? WHERE user_id = ?",
            (_prompt_to_json(prompt), user_id),
        )

    async def pending_timers(self) -> list[PendingTimer]:
        self._watch()
        return [
            PendingTimer(uid, Timer(kind, due, epoch))
            for uid, kind, due, epoch in self._db.execute(
                "SELECT user_id, kind, due, epoch FROM timers ORDER BY due"
            )
        ]

    async def log_session(self, user_id: int, session: LogSession) -> None:
        self._watch()
        self._db.execute(
            "INSERT INTO sessions (user_id, started_at, ended_at, outcome, pain_before, pain_after)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (user_id, session.started_at, session.ended_at, session.outcome, session.pain_before,
             session.pain_after),
        )

    async def log_safety(self, user_id: int, event: SafetyEvent) -> None:
        self._watch()
        self._db.execute(
            "INSERT INTO safety_events (user_id, at, kind, tier, sign, via) VALUES (?, ?, ?, ?, ?, ?)",
            (user_id, event.at, event.kind, event.tier, event.sign, event.via),
        )

    async def safety_events(self, user_id: int) -> list[SafetyEvent]:
        self._watch()
        return [
            SafetyEvent(*row)
            for row in self._db.execute(
                "SELECT at, kind, tier, sign, via FROM safety_events WHERE user_id = ?"
                " ORDER BY at",
                (user_id,),
            )
        ]

    async def sessions(self, user_id: int, since: float) -> list[LogSession]:
        self._watch()
        return [
            LogSession(*row)
            for row in self._db.execute(
                "SELECT started_at, ended_at, outcome, pain_before, pain_after FROM sessions"
                " WHERE user_id = ? AND started_at >= ? ORDER BY started_at",
                (user_id, since),
            )
        ]

    async def delete_user(self, user_id: int) -> None:
        self._watch()
        db = self._db
        db.execute("BEGIN")
        try:
            for table in USER_TABLES:
                db.execute(f"DELETE FROM {table} WHERE user_id = ?", (user_id,))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # a failed COMMIT may have ended it
                db.execute("ROLLBACK")
            raise

    @property
    def connection(self) -> sqlite3.Connection:
        """The shared connection, for stores of other features in the same database."""
        return self._db

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._watch_handle is not None:
            self._watch_handle.cancel()
            self._watch_handle = None
        self._db.close()
        self._unlock()


def _prompt_to_json(prompt: Prompt | None) -> str | None:
    if prompt is None:
        return None
    return json.dumps({"ref": prompt.ref, "text": prompt.text, "seq": prompt.seq,
                       "picture": prompt.picture, "latest": prompt.latest})


def _prompt_from_json(raw: str | None) -> Prompt | None:
    if raw is None:
        return None
    data: dict[str, Any] = json.loads(raw)
    return Prompt(int(data["ref"]), str(data["text"]), int(data["seq"]),
                  bool(data.get("picture", False)), bool(data.get("latest", False)))


def _hold_to_json(hold: SafetyHold | None) -> str | None:
    if hold is None:
        return None
    return json.dumps({"tier": hold.tier, "sign": hold.sign, "since": hold.since, "day": hold.day})


def _hold_from_json(raw: str | None) -> SafetyHold | None:
    if raw is None:
        return None
    data: dict[str, Any] = json.loads(raw)
    return SafetyHold(str(data["tier"]), str(data["sign"]), float(data["since"]), str(data["day"]))


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
