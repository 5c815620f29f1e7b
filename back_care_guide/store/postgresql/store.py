"""The store on PostgreSQL: a pool of async connections, one per transaction.

* **Opening** (:meth:`PostgresStore.from_url`) connects once, synchronously (the store is
  opened before the bot's loop runs, like the SQLite one), checks the schema and applies the
  missing migrations in one transaction. An advisory lock makes replicas that start together
  migrate one after the other. A database with tables of its own but no
  ``schema_migrations`` (someone else's), or one newer than this code, is refused unchanged.
* **A transaction** takes a connection from the pool (opened on first use, on the running
  loop) and gives it back afterwards; several transactions run at once on as many
  connections. When it sends BEGIN and COMMIT, and how few round trips it costs, is
  :class:`~back_care_guide.store.postgresql.repositories.Session`'s business.
* **Errors** at opening are :class:`~back_care_guide.store.errors.StoreError`, one line
  naming ``DATABASE_URL`` with its password replaced by ``***``.
"""

from __future__ import annotations

import time
from types import TracebackType
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from back_care_guide.store.errors import StoreError
from back_care_guide.store.migrations import MIGRATIONS_TABLE, Migration, pending
from back_care_guide.store.postgresql.coordination import PgCoordination
from back_care_guide.store.postgresql.migrations import MIGRATIONS, SCHEMA_VERSION
from back_care_guide.store.postgresql.repositories import Connection, PgTransaction, Session
from back_care_guide.store.records import StoreLocation

SCHEMES = ("postgresql", "postgres")
#: Connections a store keeps at most for transactions (one waits for a connection when all
#: are in use; a transaction takes one for a millisecond or two).
POOL_SIZE = 10
#: People one process handles at once at most: each holds a connection of its own (the
#: advisory lock that keeps other replicas off them) until their event's messages are out.
HOLDS = 64
#: Seconds to connect, and to wait for a free connection of the pool.
CONNECT_TIMEOUT = 10.0
# pg_advisory_xact_lock key held while migrating ("bcg-migr" as a number).
MIGRATION_LOCK = 0x6263672D6D696772


def shown_url(database_url: str) -> str:
    """``database_url`` fit to print: a password, in its user part or as a ``password=``
    parameter, replaced by ``***`` (a URL that cannot be read is not shown at all)."""
    try:
        parts = urlsplit(database_url)
        port = parts.port
    except ValueError:
        return "(a URL that cannot be read)"
    netloc = parts.netloc
    if parts.password is not None:
        host = parts.hostname or ""
        if ":" in host:  # an IPv6 address
            host = f"[{host}]"
        netloc = f"{parts.username or ''}:***@{host}" + (f":{port}" if port else "")
    query = urlencode([(key, "***" if key == "password" else value)
                       for key, value in parse_qsl(parts.query, keep_blank_values=True)],
                      safe="*")
    return SplitResult(parts.scheme, netloc, parts.path, query, parts.fragment).geturl()


class PostgresStore:
    """The project store on a PostgreSQL database (see the module docstring).

    Opening migrates the database to :data:`SCHEMA_VERSION` (:attr:`migrated` lists what that
    applied). Raises :class:`StoreError` if the database cannot be reached or is not ours.
    """

    def __init__(self, database_url: str, *, pool_size: int = POOL_SIZE, holds: int = HOLDS,
                 connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self._url = database_url
        self._shown = shown_url(database_url)
        self._connect_timeout = connect_timeout
        self.migrated: tuple[Migration, ...] = self._migrate()
        # autocommit: psycopg opens no transaction by itself; each unit of work opens its own
        self._pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            database_url, min_size=pool_size, max_size=pool_size, open=False, timeout=connect_timeout,
            kwargs={"autocommit": True, "connect_timeout": max(1, round(connect_timeout))},
            name="back_care_guide")
        self._pool_open = False
        self._closed = False
        self.coordination = PgCoordination(database_url, pool_size=holds,
                                           connect_timeout=connect_timeout)

    @classmethod
    def from_url(cls, database_url: str, *, pool_size: int | None = None,
                 holds: int | None = None) -> PostgresStore:
        """The store for a ``postgresql://`` (or ``postgres://``) URL."""
        if database_url.split("://", 1)[0] not in SCHEMES:
            raise StoreError("DATABASE_URL must start with postgresql:// for PostgreSQL")
        return cls(database_url, pool_size=pool_size or POOL_SIZE, holds=holds or HOLDS)

    def _error(self, reason: str) -> StoreError:
        return StoreError(f"DATABASE_URL={self._shown}: {reason}")

    # ------------------------------------------------------------------ schema

    def _migrate(self) -> tuple[Migration, ...]:
        """Bring the database up to :data:`SCHEMA_VERSION` in one transaction; what was applied."""
        try:
            with psycopg.connect(self._url, autocommit=True,
                                 connect_timeout=max(1, round(self._connect_timeout))) as conn:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                    todo = pending(MIGRATIONS, self._version(conn))
                    for migration in todo:
                        for statement in migration.statements:
                            conn.execute(statement.encode())  # DDL: no parameters
                        conn.execute(f"INSERT INTO {MIGRATIONS_TABLE} (version, name, applied_at)"
                                     " VALUES (%s, %s, %s)",
                                     (migration.version, migration.name, time.time()))
                return tuple(todo)
        except psycopg.Error as exc:
            raise self._error(_reason(exc)) from None

    def _version(self, conn: psycopg.Connection[TupleRow]) -> int:
        """The database's schema version (0: empty, and ``schema_migrations`` created now)."""
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL,"
                           " (SELECT count(*) FROM pg_tables WHERE schemaname = current_schema())",
                           (MIGRATIONS_TABLE,)).fetchone()
        assert row is not None
        ours, tables = row
        if not ours:
            if tables:
                raise self._error("this database was not made by this bot (it has tables but no "
                                  f"{MIGRATIONS_TABLE}); point DATABASE_URL at the bot's own "
                                  "database or at an empty one")
            conn.execute(f"CREATE TABLE {MIGRATIONS_TABLE} (version INTEGER PRIMARY KEY,"
                         " name TEXT NOT NULL, applied_at DOUBLE PRECISION)")
            return 0
        found = conn.execute(f"SELECT max(version) FROM {MIGRATIONS_TABLE}").fetchone()
        version = int(found[0] or 0) if found else 0
        if version > SCHEMA_VERSION:
            raise self._error(f"the database has schema version {version}, newer than this "
                              f"bot's {SCHEMA_VERSION}; run the newer bot (or a backup made for "
                              "this version)")
        return version

    # ------------------------------------------------------------------ the Store interface

    @property
    def schema_version(self) -> int:
        return SCHEMA_VERSION

    @property
    def location(self) -> StoreLocation:
        parts = urlsplit(self._url)
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
        return StoreLocation(f"PostgreSQL database {parts.path.lstrip('/') or '?'} on {host}{port}",
                             None)

    def transaction(self) -> UnitOfWork:
        return UnitOfWork(self)

    async def connection_pool(self) -> AsyncConnectionPool[Connection]:
        """The pool, opened on the running loop the first time."""
        if self._closed:
            raise RuntimeError("the store is closed")
        if not self._pool_open:
            await self._pool.open()
            self._pool_open = True
        return self._pool

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.coordination.close()
        await self._pool.close()


class UnitOfWork:
    """``async with store.transaction() as tx``: a pooled connection; what the body wrote is
    committed when it ends (held writes first), rolled back if it raises.

    Writes are queued (pipeline mode, see :class:`Session`): the end of the block sends what is
    queued, COMMIT included, and waits once, raising the first statement's error, if any.
    """

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def __aenter__(self) -> PgTransaction:
        self._pool = pool = await self._store.connection_pool()
        self._conn = conn = await pool.getconn()
        self._session = Session(conn)
        return PgTransaction(self._session)

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        conn = self._conn
        try:
            if kind is None:
                try:
                    await self._session.finish()
                except BaseException as exc:
                    await self._session.end(type(exc), exc, exc.__traceback__)
                    raise
            await self._session.end(kind, error, traceback)
        finally:
            try:
                if conn.info.transaction_status in (TransactionStatus.INTRANS,
                                                    TransactionStatus.INERROR):
                    await conn.execute("ROLLBACK")  # the body or a statement failed
            except psycopg.Error:
                pass  # a broken connection: the pool drops it
            finally:
                await self._pool.putconn(conn)


def _reason(exc: psycopg.Error) -> str:
    """One line for what psycopg or the server said (it names no password)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
