"""Visitor tokens: signed, bound to one chat page, expiring, and never naming a made-up visitor."""

from __future__ import annotations

from django.core import signing

from channels_app.webchat.visitors import SALT, Visitor, issue_token, new_visitor, read_token, visitor_id_of


def test_a_token_names_its_visitor_on_its_own_page_only():
    visitor = new_visitor("acme")
    token = issue_token(visitor)
    assert read_token(token, slug="acme") == visitor
    assert read_token(token, slug="other") is None


def test_tampered_unsalted_and_made_up_tokens_are_refused():
    visitor = new_visitor("acme")
    token = issue_token(visitor)
    assert read_token(token[:-1] + ("A" if token[-1] != "A" else "B"), slug="acme") is None
    assert read_token(signing.dumps({"v": visitor.id, "a": "acme"}), slug="acme") is None, "another salt"
    assert read_token(signing.dumps({"v": "../admin", "a": "acme"}, salt=SALT), slug="acme") is None
    assert read_token("", slug="acme") is None
    assert read_token("x" * 1000, slug="acme") is None


def test_a_token_expires_after_its_maximum_age(settings):
    token = issue_token(new_visitor("acme"))
    settings.WEBCHAT_TOKEN_MAX_AGE = -1
    assert read_token(token, slug="acme") is None


def test_contact_addresses_map_back_to_visitor_ids():
    visitor = Visitor(id="0" * 32, slug="acme")
    assert visitor_id_of(visitor.address) == visitor.id
    assert visitor_id_of("15550001111") is None
    assert visitor_id_of("webchat:not-hex") is None
