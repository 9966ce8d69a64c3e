"""The daily digest's hour and the owner's time zone in the admin's owner settings."""

from __future__ import annotations

import pytest
from django.urls import reverse

from conversations.models import AuditAction, AuditEntry, OwnerSettings
from conversations.setup import owner_setup
from conversations.tests.review_support import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return owner_setup(
        username="alice", password="alice-password", accounts={"whatsapp": "100000000000001"}
    ).owner


def post_settings(alice, **changes):
    row = OwnerSettings.objects.get(owner=alice)
    form = {
        "approval_mode": row.approval_mode,
        "confidence_threshold": str(row.confidence_threshold),
        "persona": row.persona,
        "notify_email": row.notify_email,
        "notify_whatsapp": row.notify_whatsapp,
        "digest_hour": "" if row.digest_hour is None else str(row.digest_hour),
        "time_zone": row.time_zone,
        **changes,
    }
    return logged_in(alice).post(reverse("admin:conversations_ownersettings_change", args=[row.pk]), form)


def test_the_owner_sets_the_digest_hour_and_time_zone_and_it_is_audited(alice):
    page = logged_in(alice).get(
        reverse("admin:conversations_ownersettings_change", args=[alice.gatekeeper_settings.pk])
    )
    response = post_settings(alice, digest_hour="18", time_zone="Asia/Tokyo")

    assert 'name="digest_hour"' in page.content.decode() and 'value="Asia/Tokyo"' in page.content.decode()
    assert response.status_code == 302, response.context["adminform"].form.errors
    row = OwnerSettings.objects.get(owner=alice)
    assert (row.digest_hour, row.time_zone) == (18, "Asia/Tokyo")
    entry = AuditEntry.objects.get(action=AuditAction.SETTINGS)
    assert entry.summary == "Changed settings: digest_hour, time_zone"


def test_the_owner_turns_the_digest_off(alice):
    response = post_settings(alice, digest_hour="")

    assert response.status_code == 302
    assert OwnerSettings.objects.get(owner=alice).digest_hour is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"digest_hour": "24"}, "digest_hour"),
        ({"digest_hour": "-1"}, "digest_hour"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"time_zone": ""}, "time_zone"),
    ],
)
def test_an_hour_out_of_range_or_an_unknown_zone_is_refused_with_a_reason(alice, changes, field):
    before = OwnerSettings.objects.get(owner=alice)

    response = post_settings(alice, **changes)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field]
    after = OwnerSettings.objects.get(owner=alice)
    assert (after.digest_hour, after.time_zone) == (before.digest_hour, before.time_zone)


def test_the_settings_on_the_user_page_refuse_an_unknown_zone(alice):
    """The inline on the user page uses the model's own validation."""
    row = OwnerSettings(owner=alice, time_zone="Atlantis/Capital", digest_hour=30)

    with pytest.raises(Exception) as refused:
        row.full_clean(exclude=["owner"])

    assert set(refused.value.message_dict) == {"time_zone", "digest_hour"}
