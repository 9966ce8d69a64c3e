"""Courtesy signals to the contact while a reply is on its way: "typing…" and "waiting for approval".

They go through the conversation's provider (`show_typing`, `notify_held`; no-ops on channels
without them). A courtesy never fails the job that sends it: errors are logged and dropped.
"""

from __future__ import annotations

import logging

from django.db import transaction

from conversations.models import Conversation
from conversations.providers import get_provider

logger = logging.getLogger(__name__)


def announce_typing(conversation: Conversation) -> None:
    """A reply is being drafted now."""
    _signal(conversation, "show_typing")


def announce_held(conversation: Conversation) -> None:
    """Once the transaction commits: the reply waits for the owner's approval."""
    transaction.on_commit(lambda: _signal(conversation, "notify_held"))


def _signal(conversation: Conversation, method: str) -> None:
    try:
        account = conversation.account
        provider = get_provider(account.provider)
        getattr(provider, method)(
            account_address=account.address,
            to=conversation.contact.address,
            conversation_id=conversation.pk,
        )
    except Exception:
        logger.warning(
            "could not %s on conversation %s", method.replace("_", " "), conversation.pk, exc_info=True
        )
