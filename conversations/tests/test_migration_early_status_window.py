"""Migration 0012: receipts kept before the `window_closed` flag existed get it from the code they carried."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from conversations.models import ChannelAccount, EarlyStatus, MessageStatus, Provider

pytestmark = pytest.mark.django_db

flag_closed_windows = importlib.import_module(
    "conversations.migrations.0012_early_status_window_closed"
).flag_closed_windows


def kept(account: ChannelAccount, code: str, status: str = MessageStatus.FAILED) -> int:
    return EarlyStatus.objects.create(
        account=account, provider_message_id=f"id-{code}-{status}", status=status, error_code=code
    ).pk


def test_kept_failures_with_their_providers_window_code_are_flagged_and_no_others(owner_a):
    meta = ChannelAccount.objects.create(owner=owner_a, provider=Provider.WHATSAPP, address="1065")
    twilio = ChannelAccount.objects.create(owner=owner_a, provider=Provider.TWILIO, address="+15550001")
    flagged = {kept(meta, "131047"), kept(twilio, "63016")}
    untouched = {
        kept(meta, "131026"),
        kept(meta, "63016"),  # another provider's code means nothing on Meta
        kept(twilio, "131047"),
        kept(twilio, "63016", MessageStatus.DELIVERED),
    }

    flag_closed_windows(apps, None)

    flags = dict(EarlyStatus.objects.values_list("pk", "window_closed"))
    assert all(flags[pk] for pk in flagged)
    assert not any(flags[pk] for pk in untouched)
