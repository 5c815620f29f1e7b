"""Pytest fixtures for a real PostgreSQL (registered by ``pytest_plugins`` in tests/conftest.py).

* ``postgres_server``: one throwaway server (tests/pg.py) for the whole session, started on
  first use only, so a run without PostgreSQL tests starts none.
* ``postgres_url``: a database ``test`` on it, shared by the session.
* ``fresh_postgres_url``: a new database for one test, copied from ``postgres_template``
  (``CREATE DATABASE ... TEMPLATE``, a file copy: milliseconds), dropped afterwards.
  Override ``postgres_template`` to put a schema into the template once per session.

Without PostgreSQL binaries these tests are skipped with the reason, except in CI (``CI=true``),
where that is a failure: CI must test the PostgreSQL code it ships.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg import PgError, PgServer, find_bindir, in_ci

TEMPLATE = "test_template"
_names = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_bindir() -> Path:
    """The server binaries; skips (fails in CI) where there are none."""
    try:
        bindir = find_bindir()
    except PgError as exc:  # PG_BIN set, and wrong
        pytest.fail(str(exc))
    if bindir is None:
        reason = ("no PostgreSQL server binaries (set PG_BIN, or install postgresql; "
                  "Debian: apt-get install postgresql)")
        if in_ci():
            pytest.fail(f"{reason}; CI=true, so the PostgreSQL tests may not be skipped")
        pytest.skip(reason)
    return bindir


@pytest.fixture(scope="session")
def postgres_server(postgres_bindir: Path) -> Iterator[PgServer]:
    with PgServer.start(postgres_bindir) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PgServer) -> str:
    """``postgresql://postgres@127.0.0.1:PORT/test``: one database for the session."""
    return postgres_server.create_database("test")


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PgServer) -> str:
    """The database each ``fresh_postgres_url`` is copied from (empty here)."""
    postgres_server.create_database(TEMPLATE)
    return TEMPLATE


@pytest.fixture
def fresh_postgres_url(postgres_server: PgServer, postgres_template: str) -> Iterator[str]:
    """A database of this test's own, dropped after it (its connections are ended then)."""
    name = f"test_{next(_names)}"
    url = postgres_server.create_database(name, template=postgres_template)
    yield url
    postgres_server.drop_database(name)
