"""Reads never write: an owner without stored settings reads the defaults; a write stores them.

`owner_policy` (conversations/context.py) is what the draft job, a call and a follow-up read;
`GET /user-settings/` is in test_api_settings.py.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations.context import owner_policy
from conversations.drafting import draft_reply
from conversations.models import ApprovalMode, Conversation, Draft, OwnerSettings

pytestmark = pytest.mark.django_db


def writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].lstrip().split(" ", 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}
    ]


def test_the_policy_of_an_owner_without_stored_settings_is_the_defaults_read_only(owner_a):
    with CaptureQueriesContext(connection) as queries:
        policy = owner_policy(owner_a.pk)

    assert writes(queries) == []
    assert (policy.settings.approval_mode, policy.settings.confidence_threshold) == (
        ApprovalMode.WHEN_UNSURE,
        0.75,
    )
    assert not OwnerSettings.objects.filter(owner=owner_a).exists()


def test_the_first_draft_job_of_such_an_owner_stores_their_settings(owner_a, make_conversation, script):
    conversation = make_conversation(owner_a)
    Conversation.objects.filter(pk=conversation.pk).update(reply_due_at=timezone.now())
    script({"reply": "No, thank you.", "category": "cellphone_provider", "confidence": 0.9})

    draft_reply(conversation.pk)

    assert Draft.objects.filter(conversation=conversation).count() == 1
    assert OwnerSettings.objects.filter(owner=owner_a).count() == 1, "the daily digest needs the row"
