"""Migration 0005: replies the console printed before `printed` existed were recorded `sent`; they say printed now."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("conversations", "0004_who_is_asking")]
AFTER = [("conversations", "0005_printed_and_metrics")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_replies_printed_by_the_console_become_printed_and_real_sends_stay_sent():
    apps = migrate(BEFORE)
    try:
        user = apps.get_model("conversations", "User").objects.create(username="demo")
        account = apps.get_model("conversations", "ChannelAccount").objects.create(
            owner=user, provider="whatsapp", address="106540352242922"
        )
        contact = apps.get_model("conversations", "Contact").objects.create(owner=user, address="15550001111")
        conversation = apps.get_model("conversations", "Conversation").objects.create(
            owner=user, account=account, contact=contact
        )
        Draft = apps.get_model("conversations", "Draft")
        Message = apps.get_model("conversations", "Message")
        printed_draft = Draft.objects.create(
            conversation=conversation, status="sent", text="a", answers_through=1
        )
        sent_draft = Draft.objects.create(
            conversation=conversation, status="sent", text="b", answers_through=2
        )

        def reply(draft, provider_id):
            return Message.objects.create(
                conversation=conversation,
                account=account,
                direction="out",
                author="assistant",
                status="sent",
                draft=draft,
                provider_message_id=provider_id,
            ).pk

        printed = reply(printed_draft, "console.0f1e2d3c4b5a69788796a5b4c3d2e1f0")
        sent = reply(sent_draft, "wamid.HBgLMTU1NTAwMDExMTEVAgARGBI")

        apps = migrate(AFTER)
        Draft = apps.get_model("conversations", "Draft")
        Message = apps.get_model("conversations", "Message")
        assert Message.objects.get(pk=printed).status == "printed"
        assert Draft.objects.get(pk=printed_draft.pk).status == "printed"
        assert Message.objects.get(pk=sent).status == "sent"
        assert Draft.objects.get(pk=sent_draft.pk).status == "sent"

        apps = migrate(BEFORE)
        assert apps.get_model("conversations", "Message").objects.get(pk=printed).status == "sent"
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
