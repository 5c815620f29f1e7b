"""Schema versions: numbered migrations per SQL dialect, applied in order, each once.

A database records every migration applied to it in a small table,
``schema_migrations (version, name, applied_at)``; its schema version is the highest
``version`` there. Opening a store applies the missing ones (the bot migrates itself at
start), and ``python -m back_care_guide migrate`` does the same without starting the bot.
A database newer than the code is refused, never written to.

Each dialect (:mod:`back_care_guide.store.sqlite.migrations`, later PostgreSQL's) lists its
own migrations numbered 1, 2, 3...; the same number means the same change in every dialect.
A migration never changes once released: a change is a new number.

Why not Alembic: Alembic builds on SQLAlchemy, and this project has no SQLAlchemy models
(the repositories are hand-written SQL in two dialects, so autogenerate has nothing to
compare); and migrations must run at start inside the bot (and in one small command) with
no separate tool, configuration file or extra dependency. A list of numbered SQL scripts
and a table of applied numbers is all that needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

#: The table that lists the migrations applied to a database.
MIGRATIONS_TABLE = "schema_migrations"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str  # what it changes, in a few words
    statements: tuple[str, ...] = field(repr=False)  # SQL, run in order in one transaction


def latest(migrations: Sequence[Migration]) -> int:
    """The schema version the migrations lead to; they must be numbered 1, 2, 3... in order."""
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise ValueError(f"migration {migration.version} ({migration.name}) should be "
                             f"number {expected}")
    return len(migrations)


def pending(migrations: Sequence[Migration], version: int) -> list[Migration]:
    """The migrations a database at schema ``version`` still needs, in order."""
    return [migration for migration in migrations if migration.version > version]
