"""A send's statements on the outbox, compiled once per process (tests/bench/README.md,
"Compiled once, one round trip per row").

1. The row's read is the same statement for every send (`Reminder.objects.for_sending()`:
   five joins, the consent subquery and the test for another visit that day, whose
   parameters are in the SELECT list). Django compiled it for every row, about half of a
   send's CPU; here it is compiled once per database connection and run with a plain cursor,
   and its rows become model instances through that same compiler (its converters and its
   select_related populators), so a row reads exactly as `for_sending()` reads it.
2. A send's writes are conditional UPDATEs on the row it holds (still claimed, with its
   token): `Write`, either a finish (set the fields) or a release (back to pending, or to
   cancelled if it was cancelled while being sent; unclaimed either way).
3. `start` starts a row exclusively (its lease runs from then) and reads it. On PostgreSQL the
   start and the read are one statement (a data-modifying CTE whose RETURNING row takes the
   reminder table's place in the read), and the previous row's write, if given, joins them:
   one round trip per row of a batch instead of three. The write's row count comes back with
   the read, so its claim-lost path is decided as before. On other engines the same steps run
   one statement at a time.
"""

import enum
import threading
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, router
from django.db.models import Field
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]

from treatments.models import Reminder
from treatments.models.reminders import CANCELLED_WHILE_SENDING

Status = Reminder.Status
TABLE_FROM = f' FROM "{Reminder._meta.db_table}" '
# the release's test for the note `cancel_open_reminders` leaves (a LIKE pattern: no wildcards)
assert not set("%_\\") & set(CANCELLED_WHILE_SENDING)


@dataclass(frozen=True)
class Write:
    """A conditional UPDATE of one row this send holds (claimed, with this token): a finish
    sets `fields`; a release also puts the row back to pending (cancelled if it was cancelled
    while being sent), with no token and no start."""

    reminder_id: int
    token: str
    fields: dict[str, Any] = field(default_factory=dict)
    release: bool = False


class _Read:
    """`for_sending()` compiled for one connection: its SQL with the reminder table in the FROM
    clause and no WHERE, its parameters (its subqueries', in the SELECT list), and the compiler
    that turns its rows into model instances."""

    def __init__(self, alias: str):
        self.alias = alias
        self.compiler = Reminder.objects.for_sending().query.get_compiler(using=alias)
        # its parameters: all in the SELECT list (the subqueries), none after the FROM
        self.sql, self.params = self.compiler.as_sql()
        if self.sql.count(TABLE_FROM) != 1 or "%s" in self.sql.split(TABLE_FROM)[1]:
            raise RuntimeError("The reminder read no longer compiles as expected.")
        klass_info = self.compiler.klass_info
        select = self.compiler.select
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [column[0].target.attname for column in select[self.start : self.end]]
        self.populators = get_related_populators(klass_info, select, alias)
        self.annotations = self.compiler.annotation_col_map
        self.width = self.compiler.col_count
        self.pk_position = self.start + self.init_list.index("id")
        self.converters = self.compiler.get_converters([column[0] for column in select])

    def instance(self, row) -> Reminder:
        (row,) = self.compiler.apply_converters([row], self.converters)
        reminder = Reminder.from_db(self.alias, self.init_list, row[self.start : self.end])
        for populator in self.populators:
            populator.populate(row, reminder)
        for name, position in self.annotations.items():
            setattr(reminder, name, row[position])
        return reminder


# per thread, as Django's connections are (the compiler keeps its connection)
_reads = threading.local()


def _connection():
    """Where the outbox is written (the primary, whatever reads a router sends elsewhere)."""
    return connections[router.db_for_write(Reminder)]


def _read() -> _Read:
    connection = _connection()
    compiled = getattr(_reads, "compiled", None)
    if compiled is None or compiled.compiler.connection is not connection:
        compiled = _reads.compiled = _Read(connection.alias)
    return compiled


def _field(name: str) -> Field:
    found = Reminder._meta.get_field(name)
    assert isinstance(found, Field)
    return found


def _value(name: str, value: Any) -> Any:
    if isinstance(value, enum.Enum):
        value = value.value
    return _field(name).get_db_prep_save(value, _connection())


def _holding(reminder_id: int, token: str) -> tuple[str, list]:
    return '"id" = %s AND "status" = %s AND "claim_token" = %s', [
        reminder_id,
        Status.CLAIMED.value,
        token,
    ]


def _write_sql(write: Write) -> tuple[str, list]:
    sets, params = [], []
    fields = write.fields
    if write.release:
        sets.append('"status" = CASE WHEN "skip_reason" LIKE %s THEN %s ELSE %s END')
        params += [f"%{CANCELLED_WHILE_SENDING}", Status.CANCELLED.value, Status.PENDING.value]
        fields = {"started_at": None, "claim_token": "", **fields}
    for name, value in fields.items():
        sets.append(f'"{_field(name).column}" = %s')
        params.append(_value(name, value))
    where, where_params = _holding(write.reminder_id, write.token)
    table = Reminder._meta.db_table
    return f'UPDATE "{table}" SET {", ".join(sets)} WHERE {where}', params + where_params


def _start_sql(reminder_id: int, token: str, now) -> tuple[str, list]:
    where, params = _holding(reminder_id, token)
    return (
        f'UPDATE "{Reminder._meta.db_table}" SET "started_at" = %s WHERE {where} '
        'AND "started_at" IS NULL',
        [_value("started_at", now), *params],
    )


def write(change: Write) -> int:
    """Make one write; return its row count (0: the row is no longer this send's)."""
    with _connection().cursor() as cursor:
        cursor.execute(*_write_sql(change))
        return cursor.rowcount


def start(
    reminder_id: int, token: str, now, *, after: Write | None = None
) -> tuple[Reminder | None, int | None]:
    """Make `after` (the previous row's write), then start this row if it is still claimed
    with this token and nobody started it, and read it (`for_sending`). Returns the row (None
    if it was not started) and `after`'s row count (None without `after`)."""
    if after is not None and after.reminder_id == reminder_id:  # one row: one write at a time
        written: int | None = write(after)
        return start(reminder_id, token, now)[0], written
    read, connection = _read(), _connection()
    if connection.vendor != "postgresql":
        written = None if after is None else write(after)
        with connection.cursor() as cursor:
            cursor.execute(*_start_sql(reminder_id, token, now))
            if not cursor.rowcount:
                return None, written
            cursor.execute(
                f'{read.sql} WHERE "{Reminder._meta.db_table}"."id" = %s',
                [*read.params, reminder_id],
            )
            row = cursor.fetchone()
        return (None if row is None else read.instance(row)), written
    start_sql, params = _start_sql(reminder_id, token, now)
    ctes = [f"started AS ({start_sql} RETURNING *)"]
    select, joined = read.sql, ""
    if after is not None:
        write_sql, write_params = _write_sql(after)
        ctes.insert(0, f"finished AS ({write_sql} RETURNING 1)")
        params = write_params + params
        # one row even when nothing started: the write's count
        select = select.replace(TABLE_FROM, ', "finished_count"."n"' + TABLE_FROM, 1)
        joined = ' RIGHT OUTER JOIN (SELECT count(*) AS n FROM finished) "finished_count" ON TRUE'
    select = select.replace(TABLE_FROM, f' FROM started AS "{Reminder._meta.db_table}" ', 1)
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(ctes)} {select}{joined}", [*params, *read.params])
        row = cursor.fetchone()
    written = None
    if after is not None:
        assert row is not None
        written, row = row[read.width], row[: read.width]
    if row is None or row[read.pk_position] is None:  # nothing started
        return None, written
    return read.instance(row), written
