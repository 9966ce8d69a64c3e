"""The writes on the webhook's hot path, in SQL both PostgreSQL and SQLite (3.35+) speak.

`bulk_create(ignore_conflicts=True)` issues `INSERT ... ON CONFLICT DO NOTHING` but cannot say
which rows it inserted; ingest needs exactly that to know which messages are new, and
`RETURNING` answers it in the same round trip. The conversation UPDATE is written out
because building it through the ORM cost more CPU than the rest of the request (py-spy,
BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connections, models, router

from conversations.models import Conversation, ConversationStatus

#: Rows per statement: well under SQLite's 32,766 bound parameters at ~20 columns a row.
CHUNK = 500


def insert_skipping_conflicts(objs: Sequence[models.Model], returning: Sequence[str]) -> list[tuple]:
    """Insert the rows no unique constraint already holds; returns `returning` of the inserted ones.

    A row whose unique key exists, or that repeats an earlier row of `objs`, is skipped and
    absent from the result. Model defaults and `auto_now` apply as in `save()`; the objects'
    primary keys are not set (read them from `returning`).
    """
    if not objs:
        return []
    model = type(objs[0])
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    columns = ", ".join(quote(field.column) for field in fields)
    returned = ", ".join(quote(meta.get_field(name).column) for name in returning)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    inserted: list[tuple] = []
    with connection.cursor() as cursor:
        for start in range(0, len(objs), CHUNK):
            chunk = objs[start : start + CHUNK]
            params = [
                field.get_db_prep_save(field.pre_save(obj, add=True), connection)
                for obj in chunk
                for field in fields
            ]
            # Identifiers come from the model and are quoted; every value is a bound parameter.
            sql = (
                f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([row] * len(chunk))} "  # noqa: S608
                f"ON CONFLICT DO NOTHING RETURNING {returned}"
            )
            cursor.execute(sql, params)
            inserted.extend(cursor.fetchall())
    return inserted


def insert_new(objs: Sequence[models.Model], *, unique: Sequence[str]) -> list[models.Model]:
    """Insert the rows no row holds the `unique` key of yet and set their primary keys.

    Returns the rows left out (their key existed, or a concurrent transaction inserted it
    first): the caller reads those back.
    """
    if not objs:
        return []
    meta = type(objs[0])._meta
    attnames = [meta.get_field(name).attname for name in unique]
    by_key = {tuple(getattr(obj, attname) for attname in attnames): obj for obj in objs}
    for pk, *key in insert_skipping_conflicts(objs, returning=[meta.pk.name, *unique]):
        by_key[tuple(key)].pk = pk
    return [obj for obj in objs if obj.pk is None]


@dataclass(frozen=True)
class ConversationAdvance:
    """What new inbound messages change on their conversation."""

    pk: int
    latest_inbound: datetime
    reply_due: datetime | None  # None: nothing readable came, any pending reply keeps its time
    now: datetime


def advance_conversations(changes: Sequence[ConversationAdvance]) -> None:
    """The latest inbound time only moves forward, a closed conversation reopens, the reply falls due.

    Conversations sharing their new values (a delivery's messages mostly carry the same
    second) are changed by one statement.
    """
    meta = Conversation._meta
    connection = connections[router.db_for_write(Conversation)]
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    def timestamp(value: datetime | None):
        return meta.get_field("updated_at").get_db_prep_value(value, connection)

    groups: dict[tuple, list[int]] = {}
    for change in changes:
        groups.setdefault((change.latest_inbound, change.reply_due, change.now), []).append(change.pk)
    latest, status, due = column("last_inbound_at"), column("status"), column("reply_due_at")
    with connection.cursor() as cursor:
        for (latest_inbound, reply_due, now), pks in groups.items():
            sql = (
                f"UPDATE {quote(meta.db_table)} SET "  # noqa: S608 -- identifiers from the model; values bound
                f"{latest} = CASE WHEN {latest} IS NULL OR {latest} < %s THEN %s ELSE {latest} END, "
                f"{status} = CASE WHEN {status} = %s THEN %s ELSE {status} END, "
                f"{due} = COALESCE(%s, {due}), {column('updated_at')} = %s "
                f"WHERE {column('id')} IN ({', '.join(['%s'] * len(pks))})"
            )
            params = [
                timestamp(latest_inbound),
                timestamp(latest_inbound),
                ConversationStatus.CLOSED.value,
                ConversationStatus.OPEN.value,
                timestamp(reply_due),
                timestamp(now),
                *pks,
            ]
            cursor.execute(sql, params)
