"""What every owner shares is for operators: the RQ dashboard (superusers only), channel accounts
(linked by an operator or setup, never claimed by an owner), and the admin's "view on site" shortcut,
which answers 404, never 500, whatever it is given."""

from __future__ import annotations

import uuid

import django_rq
import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, reverse
from django_rq.models import Dashboard
from rq import Queue

from conversations.admin.tools import rq_dashboard_urls
from conversations.models import ChannelAccount, Provider, User
from conversations.setup import owner_setup
from conversations.tests.review_support import logged_in

pytestmark = pytest.mark.django_db

#: A value for every parameter a dashboard route takes.
SAMPLES = {
    "queue_index": 0,
    "job_id": "job-1",
    "result_id": "result-1",
    "key": "worker-1",
    "scheduler_index": 0,
    "connection_index": 0,
    "scheduler_name": "scheduler-1",
    "cron_job_name": "cron-1",
    "token": "notTheToken1",
    "object_id": "1",
}


@pytest.fixture
def alice():
    """An owner as `gatekeeper_setup` makes one, with a WhatsApp number and a chat page."""
    return owner_setup(
        username="alice",
        password="alice-password",
        accounts={"whatsapp": "100000000000001", "webchat": "alice-chat"},
    ).owner


@pytest.fixture
def bob():
    return owner_setup(
        username="bob",
        password="bob-password",
        accounts={"whatsapp": "100000000000002", "webchat": "bob-chat"},
    ).owner


@pytest.fixture
def operator():
    """An operator, created apart as `manage.py createsuperuser` does."""
    return User.objects.create_superuser(username="root", password="root-password", email="root@example.com")


@pytest.fixture
def queue(settings, redis_url):
    """A queue of this test's own on the machine's Redis, holding one job nobody runs."""
    name = f"shared-tools-{uuid.uuid4().hex[:8]}"
    settings.RQ_QUEUES = {name: {"URL": redis_url, "DEFAULT_TIMEOUT": 5}}
    # rq's own queue enqueues at once (django_rq's waits for a commit that a test never makes).
    rq_queue = Queue(name, connection=django_rq.get_connection(name))
    rq_queue.enqueue("conversations.tasks.never_run", job_id=SAMPLES["job_id"])
    yield rq_queue
    rq_queue.empty()
    if leftovers := rq_queue.connection.keys(f"rq:*{name}*"):
        rq_queue.connection.delete(*leftovers)


def _routes(patterns: list, namespace: str) -> list[str]:
    """Every named route, reversed with sample values."""
    urls = []
    for pattern in patterns:
        assert isinstance(pattern, URLPattern)
        if not pattern.name:
            continue
        wanted = {name: SAMPLES[name] for name in pattern.pattern.regex.groupindex}
        try:
            urls.append(reverse(f"{namespace}:{pattern.name}", kwargs=wanted))
        except NoReverseMatch:  # a name shared with a route without the parameter (stats.json)
            urls.append(reverse(f"{namespace}:{pattern.name}"))
            urls.append(urls[-1].rstrip("/") + "/" + "/".join(str(value) for value in wanted.values()) + "/")
    return sorted(set(urls))


def dashboard_routes() -> list[str]:
    """The RQ dashboard's routes at /django-rq/ and inside the admin."""
    patterns, namespace = rq_dashboard_urls()
    own = _routes(patterns, namespace)
    inside_admin = _routes(admin.site.get_model_admin(Dashboard).get_urls(), "admin")
    assert own and inside_admin
    return own + inside_admin


def test_a_staff_owner_is_refused_every_rq_dashboard_route_and_changes_nothing(alice, queue):
    client = logged_in(alice)

    answers = {}
    for url in dashboard_routes():
        answers[f"GET {url}"] = client.get(url).status_code
        answers[f"POST {url}"] = client.post(
            url, {"job_ids": [SAMPLES["job_id"]], "action": "delete"}
        ).status_code

    assert {code for code in answers.values()} == {403}, {k: v for k, v in answers.items() if v != 403}
    assert queue.count == 1
    assert queue.fetch_job(SAMPLES["job_id"]) is not None


def test_a_staff_owner_is_not_shown_the_rq_dashboard(alice):
    page = logged_in(alice).get(reverse("admin:index")).content.decode()

    assert "django_rq" not in page and "Django-RQ" not in page


def test_an_operator_uses_the_rq_dashboard(operator, queue):
    client = logged_in(operator)

    own = client.get("/django-rq/")
    inside_admin = client.get(reverse("admin:django_rq_dashboard_changelist"))
    jobs = client.get(reverse("django_rq:jobs", kwargs={"queue_index": 0}))

    assert (own.status_code, inside_admin.status_code, jobs.status_code) == (200, 200, 200)
    assert queue.name in own.content.decode()
    assert SAMPLES["job_id"] in jobs.content.decode()


def test_without_a_session_the_rq_dashboard_asks_to_log_in_or_for_its_token(queue):
    client = Client()

    page = client.get("/django-rq/")
    stats = client.get("/django-rq/stats.json")

    assert page.status_code == 302 and page["Location"].startswith(reverse("admin:login"))
    assert stats.status_code == 401


def test_a_staff_owner_cannot_add_a_channel_account(alice):
    client = logged_in(alice)
    add = reverse("admin:conversations_channelaccount_add")

    page = client.get(add)
    posted = client.post(add, {"provider": "whatsapp", "address": "999999999999999", "name": "claimed"})
    listing = client.get(reverse("admin:conversations_channelaccount_changelist")).content.decode()

    assert (page.status_code, posted.status_code) == (403, 403)
    assert not ChannelAccount.objects.filter(address="999999999999999").exists()
    assert add not in listing


def test_a_staff_owner_changes_their_template_but_never_which_number_it_is(alice):
    account = ChannelAccount.objects.get(owner=alice, provider=Provider.WHATSAPP)
    client = logged_in(alice)
    change = reverse("admin:conversations_channelaccount_change", args=[account.pk])

    page = client.get(change).content.decode()
    response = client.post(
        change,
        {
            "provider": "twilio",
            "address": "999999999999999",
            "owner": alice.pk,
            "name": "My number",
            "allowed_origins": "[]",
            "reengagement_template": "hello_world",
            "reengagement_language": "en_US",
            "created_at_0": "2026-01-02",
            "created_at_1": "03:04:05",
        },
    )

    assert 'name="address"' not in page and 'name="provider"' not in page
    assert response.status_code == 302, response.context["adminform"].form.errors
    account.refresh_from_db()
    assert (account.provider, account.address, account.owner) == (Provider.WHATSAPP, "100000000000001", alice)
    assert (account.name, account.reengagement_template) == ("My number", "hello_world")


def test_a_staff_owner_cannot_open_another_owners_channel_account(alice, bob):
    theirs = ChannelAccount.objects.get(owner=bob, provider=Provider.WEBCHAT)

    response = logged_in(alice).get(reverse("admin:conversations_channelaccount_change", args=[theirs.pk]))

    assert response.status_code == 404
    assert "bob-chat" not in response.content.decode()


def test_an_operator_links_a_channel_account_to_an_owner(operator, alice):
    response = logged_in(operator).post(
        reverse("admin:conversations_channelaccount_add"),
        {
            "owner": alice.pk,
            "provider": "twilio",
            "address": "+14155238886",
            "name": "",
            "allowed_origins": "[]",
            "reengagement_template": "",
            "reengagement_language": "en_US",
            "created_at_0": "2026-01-02",
            "created_at_1": "03:04:05",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert ChannelAccount.objects.get(provider=Provider.TWILIO).owner == alice


@pytest.mark.parametrize("who", ["owner", "operator", "nobody"])
def test_view_on_site_is_a_404_never_a_500_for_any_content_type_and_id(who, alice, bob, operator):
    client = {"owner": logged_in(alice), "operator": logged_in(operator), "nobody": Client()}[who]
    # Client() re-raises a server error: a 500 would fail the test with its traceback.
    content_types = [*ContentType.objects.values_list("pk", flat=True), 0, 987654, 10**30]
    ids = ["1", str(bob.pk), str(alice.pk), "0", "-1", "x", "1.5", "%20", "a/b", "9" * 40, "_5F"]

    answers = set()
    for content_type in content_types:
        for object_id in ids:
            response = client.get(f"/admin/r/{content_type}/{object_id}/")
            answers.add(response.status_code)
            if who == "nobody":
                assert response.status_code == 302
                assert response["Location"].startswith(reverse("admin:login"))

    assert answers == ({302} if who == "nobody" else {404})


def test_view_on_site_of_the_rq_dashboard_the_500_of_the_issue_is_a_404(operator):
    dashboard = ContentType.objects.get_for_model(Dashboard)

    response = logged_in(operator).get(f"/admin/r/{dashboard.pk}/1/")

    assert response.status_code == 404
