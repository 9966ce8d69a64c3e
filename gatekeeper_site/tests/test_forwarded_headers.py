"""X-Forwarded-Proto (and -Host) count only from the reverse proxies in TRUSTED_PROXIES."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpResponse
from django.test import RequestFactory

from gatekeeper_site.proxies import ForwardedHeadersMiddleware, is_trusted_proxy, request_client_address

pytestmark = pytest.mark.django_db

STRANGER = "203.0.113.9"


@pytest.fixture
def https_only(settings):
    """Production: DEBUG off and an https PUBLIC_BASE_URL turn the https redirect on."""
    settings.SECURE_SSL_REDIRECT = True
    settings.TRUSTED_PROXIES = ["127.0.0.1", "::1", "10.0.0.0/8"]


@pytest.mark.parametrize("proxy", ["127.0.0.1", "::1", "10.20.30.40", "::ffff:10.1.2.3"])
def test_a_trusted_proxy_saying_https_is_believed(client, https_only, proxy):
    response = client.get("/admin/login/", REMOTE_ADDR=proxy, HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 200
    assert response.wsgi_request.is_secure()


@pytest.mark.parametrize("peer", [STRANGER, "192.168.1.5", "2001:db8::1", "", "unix:/run/gunicorn.sock"])
def test_anyone_else_saying_https_is_redirected_to_https(client, https_only, peer):
    response = client.get("/admin/login/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/admin/login/"


def test_the_health_check_answers_over_plain_http(client, https_only):
    response = client.get("/healthz", REMOTE_ADDR="127.0.0.1")

    assert response.status_code in (200, 503)
    assert set(response.json()) == {"database", "queue"}


def test_a_strangers_forwarded_host_and_proto_are_dropped_and_a_proxys_kept(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    factory = RequestFactory()
    seen = []
    middleware = ForwardedHeadersMiddleware(lambda request: seen.append(dict(request.META)) or HttpResponse())
    headers = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "evil.example"}

    middleware(factory.get("/", REMOTE_ADDR=STRANGER, **headers))
    middleware(factory.get("/", REMOTE_ADDR="10.9.8.7", **headers))

    stranger, proxy = seen
    assert "HTTP_X_FORWARDED_PROTO" not in stranger and "HTTP_X_FORWARDED_HOST" not in stranger
    assert proxy["HTTP_X_FORWARDED_PROTO"] == "https" and proxy["HTTP_X_FORWARDED_HOST"] == "evil.example"


def test_the_rule_holds_in_async_mode_under_daphne(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    seen = []

    async def view(request):
        seen.append(request.META.get("HTTP_X_FORWARDED_PROTO"))
        return HttpResponse()

    middleware = ForwardedHeadersMiddleware(view)
    factory = RequestFactory()
    for peer in (STRANGER, "127.0.0.1"):
        async_to_sync(middleware)(factory.get("/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_PROTO="https"))

    assert seen == [None, "https"]


def test_an_empty_trusted_proxies_trusts_nobody(settings):
    settings.TRUSTED_PROXIES = []

    assert not is_trusted_proxy("127.0.0.1")


def test_the_login_limits_read_the_client_through_trusted_proxies_only(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    factory = RequestFactory()

    behind_proxy = factory.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7")
    spoofed = factory.get("/", REMOTE_ADDR=STRANGER, HTTP_X_FORWARDED_FOR="198.51.100.7")

    assert request_client_address(behind_proxy) == "198.51.100.7"
    assert request_client_address(spoofed) == STRANGER
