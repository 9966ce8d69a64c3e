"""Reading and writing one visitor's conversation: the selectors and the one write both entry points share.

Everything is scoped by (account, visitor address): whatever ids a visitor makes up, the
queries can only reach the conversation its signed token names.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from channels_app.webchat import ratelimit
from channels_app.webchat.frames import ChatError, VisitorText
from channels_app.webchat.visitors import Visitor
from conversations.inbound import InboundBatch, InboundMessage
from conversations.ingest import ingest_batch
from conversations.models import (
    Author,
    ChannelAccount,
    Contact,
    Direction,
    Draft,
    DraftStatus,
    Message,
    MessageStatus,
    Provider,
)

PROVIDER = Provider.WEBCHAT.value
#: Outbound messages the visitor may see: handed to this edge (or past it), not queued or failed.
VISIBLE_OUTBOUND = (
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.READ,
    MessageStatus.PLAYED,
)
_AUTHORS = {Author.CONTACT: "visitor", Author.ASSISTANT: "assistant", Author.OWNER: "owner"}


@dataclass(frozen=True)
class ChatAccount:
    """The public face of a web-chat channel account: what the page and the socket need."""

    id: int
    slug: str
    owner_name: str
    allowed_origins: tuple[str, ...]


@dataclass(frozen=True)
class Posted:
    """A visitor's message after ingest; `created` is False for a retry of one already stored."""

    conversation_id: int
    message: dict
    created: bool


@dataclass(frozen=True)
class Opened:
    """A socket's chat account and the visitor's history."""

    account: ChatAccount
    messages: list[dict]
    held: bool


def find_account(slug: str) -> ChatAccount | None:
    """The web-chat account with this slug, or None."""
    account = (
        ChannelAccount.objects.select_related("owner").filter(provider=PROVIDER, address=slug).first()
        if slug and len(slug) <= 128
        else None
    )
    if account is None:
        return None
    origins = account.allowed_origins if isinstance(account.allowed_origins, list) else []
    return ChatAccount(
        id=account.pk,
        slug=account.address,
        owner_name=account.owner.get_full_name(),
        allowed_origins=tuple(str(origin) for origin in origins),
    )


def open_chat(slug: str, visitor: Visitor, *, returning: bool) -> Opened | None:
    """What a socket needs on connect, in one trip to the database; None for an unknown chat.

    A visitor without a valid token is new: nothing of theirs can be stored yet, so nothing is read.
    """
    account = find_account(slug)
    if account is None:
        return None
    if not returning:
        return Opened(account=account, messages=[], held=False)
    return Opened(
        account=account,
        messages=latest_messages(account.id, visitor),
        held=reply_is_held(account.id, visitor),
    )


def message_frame(message: Message) -> dict:
    """A message as the contract's `M`: id, author, text, created_at (and the client id it was sent with)."""
    frame = {
        "id": message.pk,
        "author": _AUTHORS.get(message.author, "assistant"),
        "text": message.text,
        "created_at": message.created_at.isoformat(),
    }
    client_id = (message.metadata or {}).get("client_id") if message.direction == Direction.IN else None
    if client_id:
        frame["client_id"] = client_id
    return frame


def _visible(account_id: int, visitor: Visitor):
    return Message.objects.filter(
        conversation__account_id=account_id, conversation__contact__address=visitor.address
    ).filter(Q(direction=Direction.IN) | Q(direction=Direction.OUT, status__in=VISIBLE_OUTBOUND))


def latest_messages(account_id: int, visitor: Visitor, *, limit: int | None = None) -> list[dict]:
    """The visitor's latest visible messages, oldest first (the history frame, and catching up)."""
    limit = limit or settings.WEBCHAT_HISTORY_LIMIT
    newest = _visible(account_id, visitor).order_by("-id")[:limit]
    return [message_frame(message) for message in reversed(newest)]


#: A reply handed over this recently is polled again whatever its id (see `messages_after`).
RECENTLY_HANDED_OVER = timedelta(minutes=2)


def messages_after(account_id: int, visitor: Visitor, after: int) -> list[dict]:
    """The visitor's visible messages with an id above `after`, oldest first (HTTP polling).

    Plus replies handed over in the last two minutes whatever their id: a reply queued before
    the visitor's newest message becomes visible after the page has moved past its id. The
    page skips ids it already shows.
    """
    recent = Q(direction=Direction.OUT, updated_at__gte=timezone.now() - RECENTLY_HANDED_OVER)
    page = (
        _visible(account_id, visitor)
        .filter(Q(id__gt=after) | recent)
        .order_by("id")[: settings.WEBCHAT_HISTORY_LIMIT]
    )
    return [message_frame(message) for message in page]


def reply_is_held(account_id: int, visitor: Visitor) -> bool:
    """Whether a reply to this visitor waits for the owner's approval."""
    return Draft.objects.filter(
        conversation__account_id=account_id,
        conversation__contact__address=visitor.address,
        status=DraftStatus.PENDING,
    ).exists()


def is_new_visitor(account: ChatAccount, visitor: Visitor) -> bool:
    """Whether this visitor's message would create a new contact: nothing of theirs is stored yet.

    True without a valid token, and also for a token a socket handed out on connect before the
    visitor's first message, so tokens minted by opening sockets do not bypass the page's cap.
    """
    return not Contact.objects.filter(owner__channel_accounts=account.id, address=visitor.address).exists()


def check_rate(visitor: Visitor, client_address: str, *, new: bool = False) -> None:
    """Refuse a message over the per-visitor or per-address limit, or a new visitor over the page's.

    The page's cap on new visitors is counted last, so a message another limit refuses uses none
    of it; a returning visitor never counts against it.
    """
    for scope, key, rate in (
        ("visitor", f"{visitor.slug}\n{visitor.id}", settings.WEBCHAT_VISITOR_RATE),
        ("address", client_address or "unknown", settings.WEBCHAT_ADDRESS_RATE),
    ):
        wait = ratelimit.hit(scope, key, ratelimit.Rate.parse(rate))
        if wait is not None:
            raise ChatError(
                "rate_limited",
                f"You are sending messages too quickly. Please wait {wait} seconds.",
                status=429,
                retry_after=wait,
            )
    if new:
        rate = ratelimit.Rate.parse(settings.WEBCHAT_NEW_VISITOR_RATE)
        wait = ratelimit.hit("new_visitor", visitor.slug, rate)
        if wait is not None:
            raise ChatError(
                "rate_limited",
                f"This chat is busy with many new visitors right now. Please try again in {wait} seconds.",
                status=429,
                retry_after=wait,
            )


def post_visitor_message(
    account: ChatAccount, visitor: Visitor, incoming: VisitorText, *, client_address: str
) -> Posted:
    """Store a visitor's message through the same ingest as every provider; idempotent per client id."""
    check_rate(visitor, client_address, new=is_new_visitor(account, visitor))
    provider_message_id = f"webchat:{visitor.id}:{incoming.client_id or uuid.uuid4().hex}"
    inbound = InboundMessage(
        provider=PROVIDER,
        account_address=account.slug,
        provider_message_id=provider_message_id,
        sender_address=visitor.address,
        text=incoming.text,
        sender_name=incoming.name,
        sent_at=timezone.now(),
        metadata={"client_id": incoming.client_id} if incoming.client_id else {},
    )
    result = ingest_batch(InboundBatch(messages=(inbound,)))
    message = Message.objects.filter(account_id=account.id, provider_message_id=provider_message_id).first()
    if message is None:
        raise ChatError("unknown_account", "This chat no longer exists.", status=404)
    return Posted(
        conversation_id=message.conversation_id, message=message_frame(message), created=result.created > 0
    )
