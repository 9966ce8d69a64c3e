"""Fixtures of the API, admin and health tests: two owners, their token clients, conversations, drafts.

Names are prefixed (`owner_a`, `client_a`, ...) so they never shadow the project-wide
fixtures in the root `conftest.py` (`owner`, `graph_api`, `run_jobs`, ...).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

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

#: Owner A's WhatsApp phone_number_id; other owners get the following numbers.
PHONE_NUMBER_ID = 106540352242922


def _owner(username: str) -> User:
    """An owner who may decide their drafts (the `approve_draft` permission), like gatekeeper_setup's."""
    owner = User.objects.create_user(
        username=username, password=f"{username}-password", email=f"{username}@example.com"
    )
    owner.user_permissions.add(Permission.objects.get(codename="approve_draft"))
    return owner


@pytest.fixture
def owner_a(db) -> User:
    """Owner A, the person most tests act as."""
    return _owner("alice")


@pytest.fixture
def owner_b(db) -> User:
    """Owner B, who must never see or change owner A's things."""
    return _owner("bob")


def token_client(user: User) -> APIClient:
    """An API client sending `Authorization: Token <key>` for the user."""
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def client_a(owner_a: User) -> APIClient:
    """An API client authenticated as owner A with a token."""
    return token_client(owner_a)


@pytest.fixture
def client_b(owner_b: User) -> APIClient:
    """An API client authenticated as owner B with a token."""
    return token_client(owner_b)


@pytest.fixture
def make_conversation(db) -> Callable[..., Conversation]:
    """Build a WhatsApp conversation for an owner, with one inbound message from the contact."""
    addresses = itertools.count(PHONE_NUMBER_ID)
    wamids = itertools.count(1)

    def make(
        owner: User,
        *,
        contact_name: str = "Telco Support",
        contact_address: str = "5511999990000",
        text: str = "Your plan renews tomorrow. Reply YES to upgrade.",
        category: str = "cellphone_provider",
    ) -> Conversation:
        account = ChannelAccount.objects.filter(owner=owner, provider=Provider.WHATSAPP).first()
        if account is None:
            account = ChannelAccount.objects.create(
                owner=owner, provider=Provider.WHATSAPP, address=str(next(addresses)), name="My number"
            )
        contact, _ = Contact.objects.get_or_create(
            owner=owner, address=contact_address, defaults={"name": contact_name}
        )
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
            provider_message_id=f"wamid.HBgMNTUxMTk5OTk5MDAwMBUCABIYFjNFQjA{next(wamids):06d}",
        )
        conversation.last_inbound_at = inbound.created_at
        conversation.save(update_fields=["last_inbound_at", "updated_at"])
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
        fields.setdefault("decision", "draft: the rule for this category says draft")
        return Draft.objects.create(
            conversation=conversation,
            text=text,
            reply_to=latest,
            answers_through=latest.pk if latest else 0,
            **fields,
        )

    return make


@pytest.fixture
def conversation_a(owner_a: User, make_conversation: Callable[..., Conversation]) -> Conversation:
    """Owner A's conversation with a telco on WhatsApp."""
    return make_conversation(owner_a)


@pytest.fixture
def draft_a(conversation_a: Conversation, make_draft: Callable[..., Draft]) -> Draft:
    """A pending draft in owner A's conversation."""
    return make_draft(conversation_a)
