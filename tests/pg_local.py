"""The machine's PostgreSQL (127.0.0.1:5432, trust auth, database `test`): one way to reach it for every test.

Tests that need it fail, never skip, when it is down: the message says how to start it.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

PG_SERVER = "127.0.0.1:5432"
PG_ROLES = ("postgres", "root")


def connect_local_postgres(database: str = "test", **engine_kwargs) -> tuple[sa.Engine, str, str]:
    """(engine, role, URL) for the first role that connects; ``pytest.fail`` with what to do otherwise."""
    failures = []
    for role in PG_ROLES:
        url = f"postgresql+psycopg://{role}@{PG_SERVER}/{database}"
        engine = sa.create_engine(url, connect_args={"connect_timeout": 5}, **engine_kwargs)
        try:
            with engine.connect():
                return engine, role, url
        except sa.exc.OperationalError as exc:
            failures.append(f"{role}: {str(exc.orig).strip().splitlines()[0]}")
            engine.dispose()
    pytest.fail(f"PostgreSQL at {PG_SERVER} (database {database!r}) is unreachable ({'; '.join(failures)}). "
                "Start it: `.ci/run` does, or `pg_ctlcluster $(ls /etc/postgresql) main start`.")
