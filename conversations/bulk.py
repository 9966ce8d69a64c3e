"""Set-based writes the ORM has no word for.

`bulk_create(ignore_conflicts=True)` issues `INSERT ... ON CONFLICT DO NOTHING` but cannot say
which rows it inserted; ingest needs exactly that to know which messages are new. Both
PostgreSQL and SQLite (3.35+) answer it in the same round trip with `RETURNING`.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections, models, router

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
