"""`/` is a small public welcome page linking the dashboard, the chat page and the API docs; "View site" opens it."""

from __future__ import annotations

import pytest
from django.conf import settings

from conversations.models import ChannelAccount, Provider
from conversations.tests.review_support import logged_in, staff_owner

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat_account(owner):
    owner.first_name, owner.last_name, owner.email = "Alice", "Liddell", "alice@example.com"
    owner.save()
    account, _ = ChannelAccount.objects.update_or_create(
        provider=Provider.WEBCHAT,
        address=settings.WEBCHAT_SLUG,
        defaults={"owner": owner, "name": "Alice's chat"},
    )
    return account


def test_the_welcome_page_links_the_dashboard_the_chat_page_and_the_api_docs(client, chat_account):
    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="/admin/"' in page
    assert f'href="/chat/{settings.WEBCHAT_SLUG}/"' in page
    assert 'href="/api/docs"' in page or 'href="/api/docs/"' in page
    assert client.get(f"/chat/{settings.WEBCHAT_SLUG}/").status_code == 200
    assert client.get("/admin/").status_code in (200, 302)


def test_the_welcome_page_shows_no_owner_data(client, chat_account):
    page = client.get("/").content.decode()

    for private in ("Alice", "Liddell", "alice@example.com", "Alice's chat"):
        assert private not in page


def test_without_a_chat_page_the_welcome_page_does_not_link_one(client):
    page = client.get("/").content.decode()

    assert "/chat/" not in page
    assert 'href="/admin/"' in page


def test_the_admins_view_site_link_opens_the_welcome_page():
    client = logged_in(staff_owner("alice"))

    page = client.get("/admin/").content.decode()

    assert '<a href="/">View site</a>' in page
