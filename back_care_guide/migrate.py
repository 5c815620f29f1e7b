"""``python -m back_care_guide migrate``: bring the database to this version's schema, then exit.

The bot migrates at start too; this is for doing it beforehand (a deploy step, a check
that a backup opens) without starting the bot. Opening the store is what migrates it (see
:mod:`back_care_guide.store.migrations`), so both run the same code.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from back_care_guide.store.open import open_store


def migrate(database_url: str, out: TextIO | None = None) -> int:
    """Migrate the database and say what was done; raises
    :class:`~back_care_guide.store.errors.StoreError` if it can't be used."""
    out = out or sys.stdout
    store = open_store(database_url)
    try:
        for migration in store.migrated:
            print(f"applied migration {migration.version}: {migration.name}", file=out)
        state = "migrated to" if store.migrated else "already at"
        print(f"{store.location.shown}: {state} schema version {store.schema_version}", file=out)
    finally:
        asyncio.run(store.close())
    return 0
