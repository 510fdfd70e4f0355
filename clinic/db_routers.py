"""Reports and exports read from a PostgreSQL read replica; everything else stays on the primary
(docs/scaling.md).

The router is installed only when DATABASE_REPLICA_URL names a replica (clinic/settings.py);
without one, `reading_from_replica()` changes nothing. With one:

1. Every read goes to the primary by default, so every page sees the writes it just made.
2. A view that only reads, and can afford to be a few seconds behind (a report, an export),
   opts in with `@reading_from_replica()` (or `with reading_from_replica():`); for its duration
   reads go to the replica. Wrap the view itself, under the access decorator, so that the login
   and the session are read from the primary.
3. Writes go to the primary always, inside the context too: the audit trail's access rows that
   the middleware writes after an export are written where they belong.
4. The replica is never migrated: it copies the primary's schema with its data.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS

REPLICA = "replica"

_reading_from_replica: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "reading_from_replica", default=False
)


@contextmanager
def reading_from_replica() -> Iterator[None]:
    """Send reads to the replica for the duration (a context manager, or a decorator:
    `@reading_from_replica()`). Only for code that reads: a write inside still goes to the
    primary, but what it read first may be seconds old."""
    token = _reading_from_replica.set(True)
    try:
        yield
    finally:
        _reading_from_replica.reset(token)


class ReplicaRouter:
    """The primary for writes, migrations and ordinary reads; the replica for opted-in reads."""

    def db_for_read(self, model, **hints) -> str:
        return REPLICA if _reading_from_replica.get() else DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        # The same rows on both sides: a row read from the replica may point at one from the
        # primary (an export's patient, the request's user).
        if {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA}:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, model_name=None, **hints) -> bool | None:
        return False if db == REPLICA else None
