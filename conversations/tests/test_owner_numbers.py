"""The owner's own numbers (`notify_whatsapp`, `forward_calls_to`) are checked where they are typed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from conversations.models import OwnerSettings
from conversations.setup import owner_setup
from conversations.tests.review_support import logged_in

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("field", ["notify_whatsapp", "forward_calls_to"])
def test_the_api_stores_the_owners_number_in_e164(client_a, owner_a, field):
    response = client_a.patch("/user-settings/", {field: "+44 7700 900123"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()[field] == "+447700900123"
    assert getattr(OwnerSettings.objects.get(owner=owner_a), field) == "+447700900123"


@pytest.mark.parametrize("field", ["notify_whatsapp", "forward_calls_to"])
def test_the_api_refuses_a_number_without_country_code_with_a_400_saying_so(client_a, owner_a, field):
    client_a.patch("/user-settings/", {field: "+5511988887777"}, format="json")

    response = client_a.patch(
        "/user-settings/", {field: "07700 900123", "approval_mode": "always"}, format="json"
    )

    assert response.status_code == 400
    assert "country code" in response.json()[field][0]
    saved = OwnerSettings.objects.get(owner=owner_a)
    assert (getattr(saved, field), saved.approval_mode) == ("+5511988887777", "when_unsure")


def test_the_api_lets_the_owner_clear_a_number(client_a, owner_a):
    client_a.patch("/user-settings/", {"notify_whatsapp": "+5511988887777"}, format="json")

    response = client_a.patch("/user-settings/", {"notify_whatsapp": ""}, format="json")

    assert response.status_code == 200
    assert OwnerSettings.objects.get(owner=owner_a).notify_whatsapp == ""


@pytest.fixture
def alice():
    return owner_setup(
        username="alice", password="alice-password", accounts={"whatsapp": "100000000000001"}
    ).owner


def post_numbers(alice, **numbers):
    row = OwnerSettings.objects.get(owner=alice)
    form = {
        "approval_mode": row.approval_mode,
        "confidence_threshold": str(row.confidence_threshold),
        "persona": row.persona,
        "notify_whatsapp": row.notify_whatsapp,
        "forward_calls_to": row.forward_calls_to,
        "time_zone": row.time_zone,
        **numbers,
    }
    return logged_in(alice).post(reverse("admin:conversations_ownersettings_change", args=[row.pk]), form)


def test_the_admin_form_stores_both_numbers_in_e164(alice):
    response = post_numbers(alice, notify_whatsapp="+44 7700 900123", forward_calls_to="0044 7700 900124")

    assert response.status_code == 302, response.context["adminform"].form.errors
    saved = OwnerSettings.objects.get(owner=alice)
    assert (saved.notify_whatsapp, saved.forward_calls_to) == ("+447700900123", "+447700900124")


@pytest.mark.parametrize(
    ("field", "typed", "reason"),
    [
        ("notify_whatsapp", "+1 415 523 888", "Too few digits for a +1 number."),
        ("forward_calls_to", "+999 1234567", "That is not a country code."),
    ],
)
def test_the_admin_form_refuses_a_number_that_cannot_be_dialled_with_the_reason(alice, field, typed, reason):
    response = post_numbers(alice, **{field: typed})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field] == [reason]
    assert getattr(OwnerSettings.objects.get(owner=alice), field) == ""
