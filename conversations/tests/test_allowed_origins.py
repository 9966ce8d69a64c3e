"""A chat account's allowed sites: one origin per line, refused with a reason per bad line, stored normalized.

Issue 14: the admin showed a raw JSON box that accepted entries the widget's matcher could never
match (a path, a wildcard, a bare host). What is stored now is exactly what the matcher compares.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from channels_app.webchat.chat import ChatAccount
from channels_app.webchat.origins import account_allows, normalize_origin
from conversations.models import ChannelAccount, Provider
from conversations.origins import OriginError, clean_origin, clean_origins
from conversations.setup import owner_setup
from conversations.tests.review_support import logged_in

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("line", "origin"),
    [
        ("https://Shop.Example", "https://shop.example"),
        ("https://shop.example/", "https://shop.example"),
        ("HTTPS://shop.example:443", "https://shop.example"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        ("https://[2001:DB8::0001]", "https://[2001:db8::1]"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("  https://shop.example  ", "https://shop.example"),
    ],
)
def test_an_origin_is_stored_as_the_matcher_compares_it(line, origin):
    assert clean_origin(line) == origin
    assert normalize_origin(origin) == origin


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("https://example.com/chat", "an origin has no path"),
        ("https://example.com/?a=1", "an origin has no query"),
        ("https://example.com#top", "an origin has no fragment"),
        ("https://*.example.com", "wildcards are not supported; list each site"),
        ("*", "wildcards are not supported; list each site"),
        ("example.com", "an origin starts with http:// or https://"),
        ("ftp://example.com", "an origin starts with http:// or https://"),
        ("javascript:alert(1)", "an origin starts with http:// or https://"),
        ("https://", "an origin names a host, e.g. https://shop.example"),
        ("https://user:pw@example.com", "an origin has no user name or password"),
        ("https://example.com:99999", "the port must be a number from 1 to 65535"),
        ("https://example.com:0", "the port must be a number from 1 to 65535"),
        ("https://example.com:", "the port must be a number from 1 to 65535"),
        ("https://exa mple.com", "an origin has no spaces"),
        ("https://exa_mple.com", "not a valid host name"),
        ("https://-example.com", "not a valid host name"),
        ("https://example.com.", "not a valid host name"),
    ],
)
def test_a_line_that_is_not_exactly_an_origin_is_refused_with_the_reason(line, reason):
    with pytest.raises(OriginError) as refused:
        clean_origin(line)

    assert reason in str(refused.value)


def test_a_list_is_cleaned_in_order_without_repeats_and_every_bad_line_is_named():
    assert clean_origins(["https://b.example", "", "https://B.example/", "http://a.example"]) == [
        "https://b.example",
        "http://a.example",
    ]
    with pytest.raises(ValueError) as refused:
        clean_origins(["https://ok.example", "https://example.com/chat", "*.example.com"])
    assert refused.value.args[0] == [
        "https://example.com/chat — an origin has no path",
        "*.example.com — wildcards are not supported; list each site",
    ]


@pytest.fixture
def alice():
    return owner_setup(username="alice", password="alice-password", accounts={"webchat": "alice-chat"}).owner


def save_account(owner, account: ChannelAccount, allowed_origins: str):
    return logged_in(owner).post(
        reverse("admin:conversations_channelaccount_change", args=[account.pk]),
        {
            "name": account.name,
            "allowed_origins": allowed_origins,
            "reengagement_template": "",
            "reengagement_language": "en_US",
            "created_at_0": "2026-01-02",
            "created_at_1": "03:04:05",
        },
    )


def chat_account(account: ChannelAccount) -> ChatAccount:
    return ChatAccount(
        id=account.pk, slug=account.address, owner_name="", allowed_origins=account.allowed_origins
    )


def test_the_owner_lists_sites_one_per_line_and_the_widget_accepts_them(alice):
    account = ChannelAccount.objects.get(owner=alice, provider=Provider.WEBCHAT)

    response = save_account(
        alice, account, "https://Shop.Example/\r\n\r\nhttp://localhost:8000\r\nhttps://shop.example"
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    account.refresh_from_db()
    assert account.allowed_origins == ["https://shop.example", "http://localhost:8000"]
    assert account_allows(chat_account(account), "https://shop.example")
    assert account_allows(chat_account(account), "http://localhost:8000")
    page = logged_in(alice).get(reverse("admin:conversations_channelaccount_change", args=[account.pk]))
    assert "https://shop.example\nhttp://localhost:8000</textarea>" in page.content.decode()


def test_sites_that_could_never_match_are_refused_line_by_line_and_nothing_is_stored(alice):
    account = ChannelAccount.objects.get(owner=alice, provider=Provider.WEBCHAT)
    account.allowed_origins = ["https://shop.example"]
    account.save()

    response = save_account(alice, account, "https://ok.example\nhttps://example.com/chat\nshop.example")

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["allowed_origins"]
    assert errors == [
        "https://example.com/chat — an origin has no path",
        "shop.example — an origin starts with http:// or https://",
    ]
    account.refresh_from_db()
    assert account.allowed_origins == ["https://shop.example"]


def test_a_pasted_json_list_as_the_old_box_took_is_still_read(alice):
    account = ChannelAccount.objects.get(owner=alice, provider=Provider.WEBCHAT)

    response = save_account(alice, account, '["https://a.example/", "http://b.example:81"]')

    assert response.status_code == 302, response.context["adminform"].form.errors
    account.refresh_from_db()
    assert account.allowed_origins == ["https://a.example", "http://b.example:81"]


def test_setup_stores_the_configured_sites_normalized_and_refuses_a_bad_one(settings, db):
    settings.WEBCHAT_SLUG = "chat"
    settings.WEBCHAT_ALLOWED_ORIGINS = ["https://Shop.Example/"]
    owner = owner_setup(username="carol", password="carol-password", accounts={"webchat": "chat"}).owner
    assert ChannelAccount.objects.get(owner=owner).allowed_origins == ["https://shop.example"]

    settings.WEBCHAT_ALLOWED_ORIGINS = ["https://shop.example/chat"]
    with pytest.raises(ImproperlyConfigured, match=r"https://shop\.example/chat — an origin has no path"):
        owner_setup(username="carol", password="carol-password", accounts={"webchat": "chat"})
