"""Allowed origins: normalized, per account, and turned into a CSP frame-ancestors list."""

from __future__ import annotations

import pytest

from channels_app.webchat.chat import ChatAccount
from channels_app.webchat.checks import check_webchat_settings
from channels_app.webchat.origins import account_allows, frame_ancestors, normalize_origin


def account(*origins: str) -> ChatAccount:
    return ChatAccount(id=1, slug="acme", owner_name="", allowed_origins=origins)


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        ("https://Shop.Example/", "https://shop.example"),
        ("https://shop.example:443", "https://shop.example"),
        ("http://127.0.0.1:8123/path?q", "http://127.0.0.1:8123"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        ("javascript:alert(1)", None),
        ("shop.example", None),
        ("https://shop.example:99999", None),
    ],
)
def test_origins_are_normalized_or_refused(value, origin):
    assert normalize_origin(value) == origin


def test_an_account_allows_exactly_its_listed_sites():
    shop = account("https://shop.example")
    assert account_allows(shop, "https://shop.example")
    assert account_allows(shop, "https://SHOP.example:443")
    assert not account_allows(shop, "http://shop.example")
    assert not account_allows(shop, "https://shop.example.evil.com")
    assert not account_allows(account(), "https://shop.example")


def test_frame_ancestors_lists_this_server_and_the_valid_allowed_sites():
    assert frame_ancestors(account()) == "'self'"
    listed = account("https://a.example", "https://a.example/", "data:x", "http://b.example:81")
    assert frame_ancestors(listed) == "'self' https://a.example http://b.example:81"


def test_a_configured_site_that_can_never_match_fails_the_start_up_check(settings):
    settings.WEBCHAT_ALLOWED_ORIGINS = ["https://shop.example", "https://shop.example/chat", "*.example.com"]

    errors = [error for error in check_webchat_settings() if error.id == "webchat.E005"]

    assert [error.msg for error in errors] == [
        "WEBCHAT_ALLOWED_ORIGINS: https://shop.example/chat — an origin has no path",
        "WEBCHAT_ALLOWED_ORIGINS: *.example.com — wildcards are not supported; list each site",
    ]
