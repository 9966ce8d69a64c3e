"""Admin logins are limited per username and address (django-axes): a wrong-password flood is refused,
the right password too while locked out, and nobody else is affected."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.db.models import F
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "the-right-password"
ATTACKER = "198.51.100.7"
PROXY = "127.0.0.1"


def staff(prefix: str = "owner"):
    """A staff user with a name of this test's own (counters may live in a Redis shared by the suite)."""
    return get_user_model().objects.create_user(
        username=f"{prefix}-{uuid.uuid4().hex[:8]}", password=PASSWORD, is_staff=True
    )


def login(username: str, password: str, address: str = ATTACKER, **headers: str):
    """One admin login from a fresh browser at `address`: 302 logged in, 200 refused, 429 locked out."""
    client = Client()
    response = client.post(
        "/admin/login/",
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
        **headers,
    )
    response.logged_in = "_auth_user_id" in client.session
    return response


def test_thirty_wrong_logins_are_refused_after_the_limit_even_with_the_right_password(settings):
    settings.AXES_FAILURE_LIMIT = 10
    owner = staff()

    statuses = [login(owner.username, f"guess-{n}").status_code for n in range(30)]
    during_lockout = login(owner.username, PASSWORD)

    assert statuses[:9] == [200] * 9, "wrong passwords are refused with the login form"
    assert statuses[9:] == [429] * 21, "from the tenth failure on, the login is locked"
    assert during_lockout.status_code == 429 and not during_lockout.logged_in


def test_a_lockout_touches_neither_another_user_nor_the_same_user_elsewhere(settings):
    settings.AXES_FAILURE_LIMIT = 10
    owner, other = staff(), staff("other")
    for n in range(12):
        login(owner.username, f"guess-{n}")
    assert login(owner.username, PASSWORD).status_code == 429

    assert login(other.username, PASSWORD).logged_in, "another user at the same address"
    assert login(owner.username, PASSWORD, address="192.0.2.44").logged_in, "the owner at another address"


def test_behind_the_proxy_each_client_counts_apart_and_a_stranger_cannot_spoof_its_way_out(settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.TRUSTED_PROXIES = [PROXY]
    owner = staff()
    for n in range(6):
        login(owner.username, f"guess-{n}", address=PROXY, HTTP_X_FORWARDED_FOR=ATTACKER)
        # Not a proxy: its X-Forwarded-For is ignored, so a new "address" each time changes nothing.
        login(owner.username, f"guess-{n}", address="203.0.113.9", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")

    assert login(owner.username, PASSWORD, address=PROXY, HTTP_X_FORWARDED_FOR=ATTACKER).status_code == 429
    assert (
        login(owner.username, PASSWORD, address="203.0.113.9", HTTP_X_FORWARDED_FOR="192.0.2.99").status_code
        == 429
    )
    assert login(owner.username, PASSWORD, address=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.8").logged_in


def test_the_lockout_ends_after_the_cool_off(settings):
    """Time passes by moving the stored failures back past the cool-off (the database handler keeps them)."""
    settings.AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    owner = staff()
    for n in range(3):
        login(owner.username, f"guess-{n}")
    assert login(owner.username, PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=14))
    assert login(owner.username, PASSWORD).status_code == 429, "still inside the cool-off"

    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=16))

    assert login(owner.username, PASSWORD).logged_in
