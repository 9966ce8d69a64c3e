"""The visitor's real address behind reverse proxies: what the per-address limit counts."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from django.core.checks import run_checks
from django.test import Client

from channels_app.webchat.addresses import client_address
from channels_app.webchat.tests.conftest import ORIGIN, SLUG
from conversations.models import Message
from conversations.tests.sockets import PatientCommunicator

PROXIES = ["127.0.0.1", "::1", "10.0.0.0/8", "2001:db8:1::/48"]


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        pytest.param("203.0.113.7", None, "203.0.113.7", id="a-visitor-without-a-proxy"),
        pytest.param("203.0.113.7", "198.51.100.1", "203.0.113.7", id="an-untrusted-peer-spoofing-xff"),
        pytest.param("203.0.113.7", "127.0.0.1", "203.0.113.7", id="an-untrusted-peer-claiming-a-proxy"),
        pytest.param("127.0.0.1", "198.51.100.1", "198.51.100.1", id="the-local-proxy"),
        pytest.param("127.0.0.1", None, "127.0.0.1", id="a-trusted-peer-without-header"),
        pytest.param("127.0.0.1", "", "127.0.0.1", id="a-trusted-peer-with-an-empty-header"),
        pytest.param("10.1.2.3", "6.6.6.6, 198.51.100.1", "198.51.100.1", id="the-visitors-own-entries"),
        pytest.param("10.1.2.3", "198.51.100.1, 10.9.9.9", "198.51.100.1", id="two-proxies-in-a-cidr"),
        pytest.param("10.1.2.3", "198.51.100.1,10.9.9.9,127.0.0.1", "198.51.100.1", id="three-proxies"),
        pytest.param("10.1.2.3", "10.5.5.5, 127.0.0.1", "10.5.5.5", id="a-visitor-on-the-proxies-network"),
        pytest.param("11.0.0.1", "198.51.100.1", "11.0.0.1", id="just-outside-the-cidr"),
        pytest.param("::1", "2001:db8::5", "2001:db8::5", id="ipv6-via-ipv6-loopback"),
        pytest.param("2001:db8:1::10", "2001:db8:2::7", "2001:db8:2::7", id="ipv6-proxy-in-a-cidr"),
        pytest.param("2001:db8:2::10", "198.51.100.1", "2001:db8:2::10", id="ipv6-peer-outside-the-cidr"),
        pytest.param("10.1.2.3", "2001:DB8:0:0::0005", "2001:db8::5", id="ipv6-written-long"),
        pytest.param("10.1.2.3", "[2001:db8::5]:4711", "2001:db8::5", id="bracketed-ipv6-with-port"),
        pytest.param("10.1.2.3", "198.51.100.1:4711", "198.51.100.1", id="ipv4-with-port"),
        pytest.param("::ffff:127.0.0.1", "198.51.100.1", "198.51.100.1", id="ipv4-mapped-loopback-peer"),
        pytest.param("10.1.2.3", "198.51.100.1, unknown", "198.51.100.1", id="unknown-skipped"),
        pytest.param("10.1.2.3", "198.51.100.1, _proxy1, ,999.1.1.1,", "198.51.100.1", id="garbage-skipped"),
        pytest.param("10.1.2.3", "garbage, , 300.1.1.1, <script>", "10.1.2.3", id="only-garbage-is-the-peer"),
        pytest.param("", "198.51.100.1", "", id="no-peer-address-believes-no-header"),
        pytest.param("unix:/gk.sock", "198.51.100.1", "unix:/gk.sock", id="a-peer-that-is-no-address"),
    ],
)
def test_the_right_most_address_no_trusted_proxy_wrote_is_the_visitor(
    settings, peer, forwarded_for, expected
):
    settings.TRUSTED_PROXIES = PROXIES
    assert client_address(peer, forwarded_for) == expected


def test_by_default_only_the_loopback_addresses_are_trusted(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "::1"]
    assert client_address("::1", "198.51.100.1") == "198.51.100.1"
    assert client_address("10.1.2.3", "198.51.100.1") == "10.1.2.3"


def test_a_changed_setting_applies_at_once(settings):
    """The parsed networks are cached by value, so an override (or a reload) is never stale."""
    settings.TRUSTED_PROXIES = ["192.168.0.0/16"]
    assert client_address("192.168.4.4", "198.51.100.1") == "198.51.100.1"
    settings.TRUSTED_PROXIES = []
    assert client_address("192.168.4.4", "198.51.100.1") == "192.168.4.4"


def test_an_entry_that_is_not_a_network_trusts_nothing_and_fails_the_checks(settings):
    """`10.0.0.1/8` has host bits set: gunicorn refuses it too, so both read the list alike."""
    settings.TRUSTED_PROXIES = ["10.0.0.1/8", "proxy.internal"]
    assert client_address("10.0.0.1", "198.51.100.1") == "10.0.0.1"
    errors = [error for error in run_checks() if error.id == "webchat.E004"]
    assert len(errors) == 2 and "10.0.0.1/8" in errors[0].msg


# -- the per-address limit, fed by the real address ------------------------------------------------


def post(client: Client, text: str, *, peer: str, forwarded_for: str | None = None):
    extra = {"REMOTE_ADDR": peer}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    body = json.dumps({"account": SLUG, "text": text})
    return client.post("/webchat", data=body, content_type="application/json", **extra).status_code


@pytest.mark.django_db(transaction=True)
def test_visitors_behind_one_proxy_are_limited_apart_and_a_spoofed_header_is_ignored(
    client, chat_account, settings
):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.WEBCHAT_ADDRESS_RATE = "2/h"  # an hour's window: the test never straddles a reset
    proxy = "10.0.0.2"

    first = [post(client, f"a{n}", peer=proxy, forwarded_for="198.51.100.1") for n in range(3)]
    second = [post(client, f"b{n}", peer=proxy, forwarded_for="198.51.100.2") for n in range(2)]
    assert first == [202, 202, 429]
    assert second == [202, 202], "another visitor behind the same proxy has a limit of their own"
    assert post(client, "a3", peer=proxy, forwarded_for="6.6.6.6, 198.51.100.1") == 429, (
        "what the visitor wrote left of the proxy's entry changes nothing"
    )

    spoofed = [post(client, f"s{n}", peer="203.0.113.9", forwarded_for=f"192.0.2.{n}") for n in range(3)]
    assert spoofed == [202, 202, 429], "an untrusted peer is counted by its own address"
    assert Message.objects.count() == 6


@pytest.mark.django_db(transaction=True)
def test_the_socket_reads_the_address_the_same_way(chat_account, settings):
    """Daphne runs without `--proxy-headers`: the consumer reads the header next to the real peer."""
    from gatekeeper_site.asgi import application

    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.WEBCHAT_ADDRESS_RATE = "1/h"

    async def send_one(peer: str, forwarded_for: str) -> str:
        headers = [(b"origin", ORIGIN.encode()), (b"x-forwarded-for", forwarded_for.encode())]
        socket = PatientCommunicator(application, f"/ws/chat/{SLUG}/", headers=headers)
        socket.scope["client"] = (peer, 50000)
        try:
            await socket.connect()
            await socket.receive_json_from()
            await socket.send_json_to({"type": "message", "text": "hello"})
            return (await socket.receive_json_from())["type"]
        finally:
            await socket.disconnect()

    async def scenario() -> list[str]:
        return [
            await send_one("10.0.0.2", "198.51.100.1"),
            await send_one("10.0.0.2", "198.51.100.2"),
            await send_one("10.0.0.2", "198.51.100.1"),
            await send_one("203.0.113.9", "192.0.2.1"),
            await send_one("203.0.113.9", "192.0.2.2"),
        ]

    assert async_to_sync(scenario)() == ["message", "message", "error", "message", "error"]
