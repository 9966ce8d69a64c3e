"""The conversations a delivery's senders already have, in one hand-written SELECT.

This is ingest's hottest query. Built through the ORM (a Q per account, `select_related`, a
subquery) it cost more CPU than all the rest of a one-message webhook (cProfile and py-spy under
`bench/ingest_profile.py`). The statement here is the one the ORM wrote, assembled from column
lists computed once per process; the rows become the same model instances: each conversation
with its `account` and `contact` and the owner's own number as `own_number`
(`owner_commands.own_number_of`). Which contact columns a sender is looked up by is
`identity.identifiers`' decision, as for every other identity lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connections, models, router

from conversations import identity
from conversations.models import ChannelAccount, Contact, Conversation, OwnerSettings

Converter = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True)
class _Table:
    """One model's columns as this SELECT reads them, with what turns a raw value into the field's."""

    model: type[models.Model]
    alias: str
    columns: tuple[str, ...]
    attnames: tuple[str, ...]
    converters: tuple[tuple[int, tuple[Converter, ...], Any], ...]

    quote: Callable[[str], str]

    def column(self, name: str) -> str:
        """The field `name`'s column, qualified by this table's alias."""
        return f"{self.quote(self.alias)}.{self.quote(self.model._meta.get_field(name).column)}"

    def instance(self, db: str, values: list[Any], connection: Any) -> models.Model:
        for index, converters, expression in self.converters:
            for convert in converters:
                values[index] = convert(values[index], expression, connection)
        return self.model.from_db(db, self.attnames, values)


@cache
def _table(model: type[models.Model], alias: str, db: str) -> _Table:
    connection = connections[db]
    quote = connection.ops.quote_name
    fields = model._meta.concrete_fields
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(alias)
        found = tuple(connection.ops.get_db_converters(column) + column.get_db_converters(connection))
        if found:
            converters.append((index, found, column))
    return _Table(
        model=model,
        alias=alias,
        columns=tuple(f"{quote(alias)}.{quote(field.column)}" for field in fields),
        attnames=tuple(field.attname for field in fields),
        converters=tuple(converters),
        quote=quote,
    )


@cache
def _head(db: str) -> tuple[str, _Table, _Table, _Table]:
    """Everything of the statement but the senders: columns, joins and the owner condition."""
    quote = connections[db].ops.quote_name
    conversation = _table(Conversation, "conversation", db)
    account = _table(ChannelAccount, "account", db)
    contact = _table(Contact, "contact", db)

    def joined(table: _Table) -> str:
        return f"{quote(table.model._meta.db_table)} {quote(table.alias)}"

    settings = OwnerSettings._meta
    notify, owner = (quote(settings.get_field(name).column) for name in ("notify_whatsapp", "owner"))
    own_number = (
        f"(SELECT {notify} FROM {quote(settings.db_table)} WHERE {owner} = {account.column('owner')})"  # noqa: S608
    )
    # Identifiers come from the models and are quoted; the senders' values are bound parameters.
    head = (
        f"SELECT {', '.join(conversation.columns + account.columns + contact.columns)}, {own_number} "  # noqa: S608
        f"FROM {joined(conversation)} "
        f"INNER JOIN {joined(account)} ON {conversation.column('account')} = {account.column('id')} "
        f"INNER JOIN {joined(contact)} ON {conversation.column('contact')} = {contact.column('id')} "
        # Naming the contact's owner lets the database find the contact by its (owner, address),
        # (phone, owner) and (user_id, owner) indexes instead of scanning every conversation of the account.
        f"WHERE {contact.column('owner')} = {account.column('owner')}"
    )
    return head, conversation, account, contact


def conversations_of(senders: Mapping[tuple[str, str], Iterable[identity.Sender]]) -> list[Conversation]:
    """The conversations whose contact may be one of `senders`, by (provider, account address).

    Only a contact of the account's own owner qualifies; which candidate a sender is gets decided
    in memory (`identity.Directory`).
    """
    db = router.db_for_read(Conversation)
    connection = connections[db]
    head, conversation, account, contact = _head(db)
    clauses: list[str] = []
    params: list[str] = []
    for (provider, address), named in senders.items():
        ways: list[str] = []
        values: list[str] = []
        for name, wanted in identity.identifiers(named).items():
            if wanted:
                ways.append(f"{contact.column(name)} IN ({', '.join(['%s'] * len(wanted))})")
                values.extend(wanted)
        if ways:
            clauses.append(
                f"({account.column('provider')} = %s AND {account.column('address')} = %s AND ({' OR '.join(ways)}))"
            )
            params.extend([provider, address, *values])
    if not clauses:
        return []
    with connection.cursor() as cursor:
        cursor.execute(f"{head} AND ({' OR '.join(clauses)})", params)
        rows = cursor.fetchall()
    ends = (len(conversation.columns), len(conversation.columns) + len(account.columns), -1)
    found = []
    for row in rows:
        values = list(row)
        one = conversation.instance(db, values[: ends[0]], connection)
        one.account = account.instance(db, values[ends[0] : ends[1]], connection)
        one.contact = contact.instance(db, values[ends[1] : ends[2]], connection)
        one.own_number = values[-1]
        found.append(one)
    return found
