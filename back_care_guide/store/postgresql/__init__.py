"""The store on PostgreSQL (psycopg 3, async, pooled): :mod:`.store`, repositories, migrations.

Chosen by a ``postgresql://`` ``DATABASE_URL``, for several replicas sharing one database.
"""

from back_care_guide.store.postgresql.migrations import SCHEMA_VERSION
from back_care_guide.store.postgresql.store import PostgresStore, shown_url

__all__ = ["SCHEMA_VERSION", "PostgresStore", "shown_url"]
