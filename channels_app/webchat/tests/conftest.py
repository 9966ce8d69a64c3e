"""Fixtures of the web-chat tests: an owner with a chat page, sockets on the real ASGI application."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager

import pytest

from conversations.models import ChannelAccount, Rule, RuleAction
from conversations.setup import owner_setup
from conversations.tests.sockets import PatientCommunicator

SLUG = "acme-help"
ORIGIN = "http://localhost"


@pytest.fixture(autouse=True)
def _own_cache_keys(settings):
    """Rate-limit counters of one test never count against another (the cache may be a shared Redis)."""
    caches = {alias: dict(config) for alias, config in settings.CACHES.items()}
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex[:12]}"
    settings.CACHES = caches


@pytest.fixture
def chat_account(transactional_db) -> ChannelAccount:
    """An owner set up as `gatekeeper_setup` does, with the web-chat page `acme-help`."""
    result = owner_setup(username="owner", password="owner-password", accounts={"webchat": SLUG})
    return result.accounts[0]


@pytest.fixture
def delegate(chat_account):
    """Let the assistant answer a category on its own (`auto`), as an owner would in the dashboard."""

    def use(category: str = "cellphone_provider") -> None:
        # A visitor has no number to name: a keyword is the owner's data that says what it is about.
        Rule.objects.filter(owner=chat_account.owner, category=category).update(
            action=RuleAction.AUTO, match_keywords=["mobile"]
        )

    return use


@asynccontextmanager
async def chat_socket(path: str = f"/ws/chat/{SLUG}/", *, origin: str = ORIGIN, client: str = "10.0.0.1"):
    """A connected socket on the real ASGI application (routing and origin checks included), always closed."""
    from gatekeeper_site.asgi import application

    headers = [(b"origin", origin.encode())] if origin else []
    communicator = PatientCommunicator(application, path, headers=headers)
    communicator.scope["client"] = (client, 50000)
    try:
        yield communicator
    finally:
        await communicator.disconnect()
