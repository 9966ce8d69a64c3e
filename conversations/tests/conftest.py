"""Shared fixtures for the conversations tests: owners, a WhatsApp conversation, API clients, jobs."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from conversations import jobs
from conversations.models import (
    Author,
    ChannelAccount,
    Contact,
    Conversation,
    Direction,
    Draft,
    Message,
    MessageStatus,
    Provider,
    User,
)

_wamid = itertools.count(1)


@pytest.fixture
def recorded_jobs() -> Iterator[list[jobs.RecordedJob]]:
    """The LocmemBackend's job list, emptied before and after the test."""
    jobs.recorded.clear()
    yield jobs.recorded
    jobs.recorded.clear()


@pytest.fixture
def owner(db) -> User:
    """Owner A, the person most tests act as."""
    return User.objects.create_user(username="alice", password="alice-password", email="alice@example.com")


@pytest.fixture
def other_owner(db) -> User:
    """Owner B, who must never see or change owner A's things."""
    return User.objects.create_user(username="bob", password="bob-password", email="bob@example.com")


def _api_client_for(user: User) -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api_client(owner: User) -> APIClient:
    """An API client authenticated as owner A with a token."""
    return _api_client_for(owner)


@pytest.fixture
def other_api_client(other_owner: User) -> APIClient:
    """An API client authenticated as owner B with a token."""
    return _api_client_for(other_owner)


@pytest.fixture
def make_conversation(db) -> Callable[..., Conversation]:
    """Build a WhatsApp conversation for an owner, with one inbound message from the contact."""
    accounts = itertools.count(106540352242922)

    def make(
        owner: User,
        *,
        contact_name: str = "Telco Support",
        contact_address: str = "5511999990000",
        text: str = "Your plan renews tomorrow. Reply YES to upgrade.",
        category: str = "cellphone_provider",
    ) -> Conversation:
        account = ChannelAccount.objects.create(
            owner=owner, provider=Provider.WHATSAPP, address=str(next(accounts)), name="My number"
        )
        contact = Contact.objects.create(owner=owner, address=contact_address, name=contact_name)
        conversation = Conversation.objects.create(
            owner=owner, account=account, contact=contact, category=category
        )
        inbound = Message.objects.create(
            conversation=conversation,
            account=account,
            direction=Direction.IN,
            author=Author.CONTACT,
            text=text,
            status=MessageStatus.RECEIVED,
            provider_message_id=f"wamid.TEST{next(_wamid):06d}",
        )
        Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=inbound.created_at)
        conversation.refresh_from_db()
        return conversation

    return make


@pytest.fixture
def make_draft(db) -> Callable[..., Draft]:
    """Add a pending draft answering the conversation's newest inbound message."""

    def make(conversation: Conversation, *, text: str = "No, thank you.", **fields: object) -> Draft:
        latest = conversation.messages.filter(direction=Direction.IN).order_by("-id").first()
        fields.setdefault("category", conversation.category)
        fields.setdefault("confidence", 0.9)
        fields.setdefault("reason", "The provider offers an upgrade; the owner declines upsells.")
        return Draft.objects.create(
            conversation=conversation,
            text=text,
            reply_to=latest,
            answers_through=latest.pk if latest else 0,
            **fields,
        )

    return make


@pytest.fixture
def conversation(owner: User, make_conversation: Callable[..., Conversation]) -> Conversation:
    """Owner A's conversation with a telco on WhatsApp."""
    return make_conversation(owner)


@pytest.fixture
def draft(conversation: Conversation, make_draft: Callable[..., Draft]) -> Draft:
    """A pending draft in owner A's conversation."""
    return make_draft(conversation)
