"""Gatekeeper's records: who owns what, what was said, what the assistant wants to say."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class User(AbstractUser):
    """The owner: the person Gatekeeper answers for."""


class ApprovalMode(models.TextChoices):
    ALWAYS = "always", "Always ask me before sending"
    WHEN_UNSURE = "when_unsure", "Send on my behalf where a rule says auto and the assistant is sure"
    NEVER = "never", "Send unless a guard fires, confidence is low, or a rule holds it"


#: The digest's default hour: the start of the owner's day, so what waits can still be approved while
#: the companies' offices are open (and a reply within WhatsApp's 24 hours). Quiet days send nothing.
DEFAULT_DIGEST_HOUR = 8


def default_time_zone() -> str:
    """The server's TIME_ZONE, read when a row is made (not frozen into a migration)."""
    return settings.TIME_ZONE


@cache
def time_zone_names() -> frozenset[str]:
    """Every IANA time-zone name this installation knows (read once: it walks the zone database)."""
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    """An IANA name exactly as the zone database spells it, e.g. America/Sao_Paulo."""
    if value not in time_zone_names():
        raise ValidationError(
            f"{value!r} is not a time zone this server knows; use an IANA name such as Europe/Lisbon "
            "or America/Sao_Paulo.",
            code="invalid_time_zone",
        )


class OwnerSettings(models.Model):
    """How much the owner delegates, and how the assistant should sound."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="gatekeeper_settings"
    )
    approval_mode = models.CharField(
        max_length=16,
        choices=ApprovalMode.choices,
        default=ApprovalMode.WHEN_UNSURE,
        help_text="always: every reply waits for you. when_unsure: replies in categories whose rule is "
        "'auto' go out when the assistant is at least as confident as the threshold and no guard fires; "
        "everything else waits. never: replies go out unless a guard fires or confidence is below the "
        "threshold (rules set to 'draft' or 'escalate' still hold).",
    )
    confidence_threshold = models.FloatField(
        default=0.75,
        help_text="From 0 to 1. Replies the assistant is less sure of wait for you and notify you.",
    )
    persona = models.TextField(
        blank=True,
        default="Polite, brief and firm. Never agree to anything that costs money or changes a contract.",
        help_text="How the assistant should write on your behalf.",
    )
    notify_email = models.EmailField(
        blank=True, help_text="Where escalations go; defaults to your account's email."
    )
    notify_whatsapp = models.CharField(
        max_length=32,
        blank=True,
        help_text="Optional: your own WhatsApp number, told when something needs you.",
    )
    notify_template = models.CharField(
        max_length=512,
        blank=True,
        help_text="Optional: the approved WhatsApp template that carries a note to your own number once "
        "its 24-hour window closed (a Meta template name whose body has one variable, or a Twilio Content "
        "SID starting with HX). Without one, such notes wait until you next write.",
    )
    notify_template_language = models.CharField(
        max_length=16, blank=True, default="en_US", help_text="Meta only: the template's language code."
    )
    forward_calls_to = models.CharField(
        max_length=32,
        blank=True,
        help_text="Optional: your own phone number (+E.164) that calls from contacts marked 'put through' "
        "are forwarded to; empty: your WhatsApp number above.",
    )
    # When the owner was last emailed: notifications are batched (NOTIFY_EMAIL_INTERVAL).
    last_notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    digest_hour = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        default=DEFAULT_DIGEST_HOUR,
        validators=[MaxValueValidator(23)],
        help_text="The hour (0-23, in your time zone) of your daily digest: what was answered, what waits, "
        "what was escalated. Empty: no digest. Nothing is sent on a day when nothing happened.",
    )
    time_zone = models.CharField(
        max_length=64,
        default=default_time_zone,
        validators=[validate_time_zone],
        help_text="Your time zone, an IANA name such as Europe/Lisbon or America/Sao_Paulo.",
    )
    # When the last daily digest was claimed: at most one per owner per local day (`daily_digest`).
    # A new owner's counts from their setup, so their first digest comes the next day.
    last_digest_at = models.DateTimeField(null=True, blank=True, editable=False, default=timezone.now)
    # The mail server refused the digest for now: not tried again before this.
    digest_retry_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "owner settings"
        verbose_name_plural = "owner settings"

    def __str__(self) -> str:
        return f"Settings of {self.owner}"


class Provider(models.TextChoices):
    WHATSAPP = "whatsapp", "WhatsApp (Meta Cloud API)"
    TWILIO = "twilio", "WhatsApp (Twilio)"
    WEBCHAT = "webchat", "Web chat"
    VOICE = "voice", "Phone calls (Twilio Voice)"


class ChannelAccount(models.Model):
    """A provider address (Meta phone_number_id, Twilio number, web-chat slug) that belongs to an owner."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="channel_accounts"
    )
    provider = models.CharField(max_length=16, choices=Provider.choices)
    address = models.CharField(
        max_length=128, help_text="Meta phone_number_id, Twilio WhatsApp number (+E.164) or web-chat slug."
    )
    name = models.CharField(max_length=120, blank=True)
    allowed_origins = models.JSONField(
        default=list, blank=True, help_text="Web chat only: sites allowed to embed the chat widget."
    )
    reengagement_template = models.CharField(
        max_length=512,
        blank=True,
        help_text="WhatsApp only: the approved template sent when the 24-hour window has closed "
        "(a Meta template name, or a Twilio Content SID starting with HX).",
    )
    reengagement_language = models.CharField(
        max_length=16, blank=True, default="en_US", help_text="Meta only: the template's language code."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "address"], name="unique_account_address")]

    def __str__(self) -> str:
        return self.name or f"{self.get_provider_display()} {self.address}"


#: What `Contact.address` starts with for a web-chat visitor; the rest is the visitor's random id.
WEBCHAT_ADDRESS_PREFIX = "webchat:"
#: How the owner sees a web-chat visitor, before the name they typed and a short stable id.
WEBCHAT_VISITOR = "Web-chat visitor"
#: How many characters of a visitor's id tell two visitors apart on screen.
WEBCHAT_SUFFIX_LENGTH = 6
#: What `Contact.address` starts with for a WhatsApp group; the rest is the provider's group id.
GROUP_ADDRESS_PREFIX = "group:"
#: How the owner sees a group they have not named.
GROUP_LABEL = "WhatsApp group"


class Contact(models.Model):
    """Someone who writes to the owner: a company, a bank, a spammer."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contacts")
    address = models.CharField(
        max_length=160, help_text="WhatsApp number or business-scoped user id, or a web-chat visitor."
    )
    phone = models.CharField(max_length=32, blank=True)
    user_id = models.CharField(
        max_length=160, blank=True, help_text="WhatsApp business-scoped user id (e.g. US.1349…), if known."
    )
    parent_user_id = models.CharField(max_length=160, blank=True)
    identity_changed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="WhatsApp said this contact's identity changed (new device or reinstall): the assistant "
        "does not act for them until you confirm it is still them.",
    )
    name = models.CharField(max_length=160, blank=True)
    category = models.CharField(
        max_length=64, blank=True, help_text="Set this to always treat this contact as one category."
    )
    put_through = models.BooleanField(
        default=False, help_text="Phone calls from this contact are forwarded to you instead of answered."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # The handle the contact was created under; who a sender is is found by phone and user_id
            # (conversations/identity.py, docs/architecture.md "One identity per contact").
            models.UniqueConstraint(fields=["owner", "address"], name="unique_contact_address"),
            models.UniqueConstraint(
                fields=["user_id", "owner"], condition=~Q(user_id=""), name="unique_contact_user_id"
            ),
        ]
        indexes = [models.Index(fields=["phone", "owner"], name="contact_phone_owner")]

    def __str__(self) -> str:
        return self.shown()

    @property
    def is_webchat_visitor(self) -> bool:
        return self.address.startswith(WEBCHAT_ADDRESS_PREFIX)

    @property
    def is_group(self) -> bool:
        """A WhatsApp group: never answered privately, never automatically."""
        return self.address.startswith(GROUP_ADDRESS_PREFIX)

    @property
    def group_id(self) -> str:
        return self.address.removeprefix(GROUP_ADDRESS_PREFIX) if self.is_group else ""

    def shown(self, name: str | None = None) -> str:
        """How the owner sees this contact; `name` stands for the stored one (e.g. made header-safe).

        A web-chat visitor reads "Web-chat visitor", the name they typed if any, and the start
        of their id in brackets, so two visitors differ; anyone else by name, number or address.
        """
        name = self.name if name is None else name
        if self.is_webchat_visitor:
            suffix = self.address.removeprefix(WEBCHAT_ADDRESS_PREFIX)[:WEBCHAT_SUFFIX_LENGTH]
            return " ".join(part for part in (WEBCHAT_VISITOR, name, f"({suffix})") if part)
        if self.is_group:
            suffix = self.group_id[-WEBCHAT_SUFFIX_LENGTH:]
            return " ".join(part for part in (GROUP_LABEL, name, f"({suffix})") if part)
        return name or self.phone or self.user_id or self.address


class ConversationStatus(models.TextChoices):
    OPEN = "open", "Open"
    NEEDS_ATTENTION = "needs_attention", "Needs attention"
    CLOSED = "closed", "Closed"


class CategorySource(models.TextChoices):
    """Who said what a conversation is about: only the owner's own data lets a reply go out by itself."""

    NONE = "", "Not yet known"
    CONTACT = "contact", "You pinned the contact to it"
    SENDER = "sender", "A rule names the sender's address"
    KEYWORD = "keyword", "A rule's keyword matched"
    ENGINE = "engine", "The assistant's guess"


class Conversation(models.Model):
    """One contact on one channel account; also the unit of ordering and of pending work."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="conversations")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    category = models.CharField(max_length=64, blank=True)
    category_source = models.CharField(
        max_length=10, choices=CategorySource.choices, default=CategorySource.NONE, blank=True
    )
    claims_to_be = models.CharField(
        max_length=160,
        blank=True,
        help_text="The known company an unknown sender's display name resembles: unverified, never answered "
        "automatically.",
    )
    rule = models.ForeignKey("Rule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(
        max_length=20, choices=ConversationStatus.choices, default=ConversationStatus.OPEN
    )
    bot_paused = models.BooleanField(
        default=False, help_text="The owner took this conversation over: the assistant stays silent."
    )
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    # Pending work, kept in the database so a lost job is found again (see `sweeper`).
    reply_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    handled_through = models.BigIntegerField(default=0, help_text="Id of the last inbound message handled.")
    draft_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "contact"], name="unique_conversation")]
        indexes = [models.Index(fields=["owner", "status", "-updated_at"])]

    def __str__(self) -> str:
        return f"{self.contact} on {self.account}"


class Direction(models.TextChoices):
    IN = "in", "Inbound"
    OUT = "out", "Outbound"


class Author(models.TextChoices):
    CONTACT = "contact", "Provider"
    ASSISTANT = "assistant", "Assistant"
    OWNER = "owner", "Owner"


class MessageStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    # No provider is configured for the channel (demo mode): the console printed it, nothing left.
    PRINTED = "printed", "Printed, not sent (no provider configured)"
    DELIVERED = "delivered", "Delivered"
    READ = "read", "Read"
    PLAYED = "played", "Played"
    FAILED = "failed", "Failed"


class Message(models.Model):
    """One message in or out; provider ids are unique per account, which makes ingest idempotent."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="+")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    author = models.CharField(max_length=10, choices=Author.choices)
    kind = models.CharField(max_length=16, default="text")
    text = models.TextField(blank=True)
    # NULL until the provider accepts an outbound message; unique among non-NULL values.
    provider_message_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    status = models.CharField(max_length=10, choices=MessageStatus.choices)
    error_code = models.CharField(max_length=32, blank=True)
    error_detail = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    draft = models.ForeignKey(
        "Draft", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When the provider says it was sent.")
    accepted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the provider accepted it (or the console printed it)."
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The contact changed the text (earlier versions in metadata["history"]) or deleted the
    # message for everyone; the text is kept for the owner's record (conversations/message_events.py).
    edited_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "provider_message_id"],
                condition=Q(provider_message_id__isnull=False),
                name="unique_provider_message",
            )
        ]
        indexes = [
            models.Index(fields=["conversation", "direction", "status"]),
            # Counts by direction, status and channel (/metrics, the sweeper's queued messages).
            models.Index(fields=["direction", "status", "account"], name="message_direction_status"),
        ]
        # Operators (superusers) have it; an owner's staff account does not: the figures cover every owner.
        permissions = [("view_metrics", "Can read the service's metrics at /metrics")]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.kind} #{self.pk}"


class EarlyStatus(models.Model):
    """A delivery receipt that arrived before its message's provider id was stored.

    The provider may report on a message (even its failure) before the send job has
    committed the id it was given; the receipt waits here and is applied once the id is
    known, instead of being dropped. Receipts for messages Gatekeeper never sent expire.
    """

    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="+")
    provider_message_id = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=MessageStatus.choices)
    occurred_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    error_detail = models.TextField(blank=True)
    #: The provider's parser read the failure as WhatsApp's closed 24-hour window (StatusUpdate.window_closed).
    window_closed = models.BooleanField(default=False)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["account", "provider_message_id"])]

    def __str__(self) -> str:
        return f"{self.status} for {self.provider_message_id}"


class Delivery(models.Model):
    """A provider's webhook body as it came, kept until a job has ingested it (conversations/deliveries.py).

    Storing it is all the webhook does before its 200, so providers are answered at the cost of
    one INSERT; the row is deleted in the transaction that stores what it carried. A row that
    stays has not been ingested yet, or failed `attempts` times with `error`.
    """

    #: The channel provider alias whose parser reads the body (settings.CHANNEL_PROVIDERS).
    provider = models.CharField(max_length=32)
    body = models.BinaryField()
    received_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    #: A failed try's backoff: not tried again before this (None: whenever a job runs).
    retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.provider} delivery {self.pk} of {self.received_at:%Y-%m-%d %H:%M:%S}"


class DraftStatus(models.TextChoices):
    PENDING = "pending", "Waiting for approval"
    APPROVED = "approved", "Approved, sending"
    SENT = "sent", "Sent"
    PRINTED = "printed", "Printed, not sent (no provider configured)"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"
    FAILED = "failed", "Send failed"


class DraftKind(models.TextChoices):
    TEXT = "text", "Free-form text"
    TEMPLATE = "template", "Re-engagement template (the 24-hour window has closed)"
    # A scheduled follow-up (conversations/followups.py): it claims no turn of the conversation.
    FOLLOW_UP = "follow_up", "Follow-up (scheduled by you, the assistant or a promise)"


class Draft(models.Model):
    """A reply the engine proposed, with the policy's verdict; sending is an explicit service."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="drafts")
    status = models.CharField(max_length=10, choices=DraftStatus.choices, default=DraftStatus.PENDING)
    kind = models.CharField(max_length=10, choices=DraftKind.choices, default=DraftKind.TEXT)
    text = models.TextField()
    category = models.CharField(max_length=64, blank=True)
    confidence = models.FloatField(default=0.0)
    reason = models.TextField(blank=True)
    engine = models.CharField(max_length=40, blank=True)
    guards = models.JSONField(
        default=list, blank=True, help_text="Every guard that fired, with the offending words."
    )
    decision = models.TextField(blank=True, help_text="Why the policy sent or held this reply.")
    disclosed = models.JSONField(
        default=list, blank=True, help_text="Keys of the shared facts the vault filled into the text."
    )
    reply_to = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The newest inbound message this draft answers: a job retried after it committed finds the
    # turn taken. A template draft re-opens the conversation after it and claims no turn.
    answers_through = models.BigIntegerField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "answers_through"],
                condition=Q(kind="text"),
                name="one_draft_per_turn",
            ),
        ]
        indexes = [models.Index(fields=["status", "decided_by"], name="draft_status_decided_by")]
        permissions = [("approve_draft", "Can approve or reject drafts")]

    def __str__(self) -> str:
        return f"Draft #{self.pk} ({self.status})"


class RuleAction(models.TextChoices):
    AUTO = "auto", "Auto: answer on my behalf when confident and no guard fires"
    DRAFT = "draft", "Draft: always wait for my approval"
    ESCALATE = "escalate", "Escalate: tell me, do not answer"
    IGNORE = "ignore", "Ignore: store only"


class Rule(models.Model):
    """What happens to conversations of one category; one rule per category per owner."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rules")
    category = models.SlugField(max_length=64)
    action = models.CharField(max_length=10, choices=RuleAction.choices, default=RuleAction.DRAFT)
    instructions = models.TextField(blank=True, help_text="How to answer this kind of provider.")
    match_senders = models.JSONField(
        default=list,
        blank=True,
        help_text="Sender numbers (E.164) or provider ids that belong to this category. Company names listed "
        "here never match by themselves: a sender using one from another address is marked unverified.",
    )
    match_keywords = models.JSONField(
        default=list, blank=True, help_text="Words that put a conversation in this category."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["owner", "category"], name="one_rule_per_category")]

    def __str__(self) -> str:
        return f"{self.category}: {self.action}"


class Fact(models.Model):
    """Something the assistant may know; private facts are never shared or sent unapproved."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="facts")
    key = models.CharField(max_length=120)
    value = models.TextField()
    private = models.BooleanField(
        default=True,
        help_text="Private facts are never given to the engine and block any reply containing them.",
    )
    share_with = models.JSONField(
        default=list,
        blank=True,
        help_text="Shareable facts only: the categories of company that may be told this fact "
        "(empty: every category). The assistant never sees the value; it writes {{fact:KEY}} "
        "and the value is filled in after the checks.",
    )

    class Meta:
        ordering = ["key"]
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="unique_fact_key")]

    def __str__(self) -> str:
        return self.key


class EscalationReason(models.TextChoices):
    ENGINE_FAILING = "engine_failing", "The AI engine keeps failing"
    LOW_CONFIDENCE = "low_confidence", "The assistant is unsure"
    GUARD = "guard", "A guard held a reply"
    RULE = "rule", "Your rule says to escalate this category"
    UNREADABLE = "unreadable_message", "A message the assistant cannot read (media, location, contacts)"
    SEND_FAILED = "send_failed", "A reply could not be delivered"
    WINDOW_CLOSED = "window_closed", "WhatsApp's 24-hour window has closed"
    SEND_UNKNOWN = "send_outcome_unknown", "A send was interrupted; it may or may not have arrived"
    LOOP = "loop", "Automatic replies stopped: the company looks like another bot"
    UNVERIFIED_SENDER = "unverified_sender", "An unknown sender claims to be a company you know"
    CATEGORY = "category", "The assistant reads the conversation differently from your rules"
    GROUP = "group_message", "A message in a WhatsApp group: the assistant never answers groups itself"
    CALL_MESSAGE = "call_message", "A caller left a message"


class Escalation(models.Model):
    """A moment the owner was needed, and whether they were told."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="escalations")
    reason = models.CharField(max_length=40, choices=EscalationReason.choices)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["reason", "notified_at"], name="escalation_reason_notified")]

    def __str__(self) -> str:
        return f"{self.reason} on {self.conversation}"


class NotificationBatch(models.Model):
    """Escalations claimed for one email and one WhatsApp note, kept until both went out.

    The claim marks the escalations notified and writes this row in one transaction; the row is
    deleted once the owner was told. A worker that dies between the two leaves it behind, and the
    sweeper finishes the delivery (conversations/escalation.py): the owner may hear twice, never
    not at all.
    """

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    escalation_ids = models.JSONField(default=list)
    #: When a worker took it on; one that has held it past the sweeper's cut-off is presumed dead.
    claimed_at = models.DateTimeField()
    #: Where the email goes; "" once it went (or when the owner has no address).
    email_to = models.CharField(max_length=254, blank=True)
    subject = models.TextField(blank=True)
    body = models.TextField(blank=True)
    note_to = models.CharField(max_length=32, blank=True)
    note_text = models.TextField(blank=True)
    #: Plain ids: a draft or conversation deleted meanwhile must not take the owner's note with it.
    note_draft_id = models.BigIntegerField(null=True, blank=True)
    note_conversation_id = models.BigIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"notification of {len(self.escalation_ids)} escalation(s) for owner {self.owner_id}"


class AuditAction(models.TextChoices):
    APPROVE = "approve", "Approved a draft"
    EDIT = "edit", "Edited a draft"
    REJECT = "reject", "Rejected a draft"
    TAKE_OVER = "take_over", "Took the conversation over"
    RELEASE = "release", "Handed the conversation back"
    MANUAL_REPLY = "manual_reply", "Replied by hand"
    SETTINGS = "settings", "Changed settings"
    RULE = "rule", "Changed a rule"
    FACT = "fact", "Changed a fact"
    DISCLOSE = "disclose", "Shared a fact with a company"
    NO_REPLY = "no_reply", "Decided not to reply"
    CONFIRM_IDENTITY = "confirm_identity", "Confirmed a contact's changed identity"


class AuditEntry(models.Model):
    """Who did what and when, with before and after; written once, never edited."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="audit_entries"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_entries"
    )
    draft = models.ForeignKey(
        Draft, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    summary = models.CharField(max_length=300, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.actor} {self.get_action_display().lower()} at {self.created_at:%Y-%m-%d %H:%M}"


class FollowUpStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    SENT = "sent", "Sent (queued for delivery)"
    HELD = "held", "Held for your approval"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"


class FollowUpSource(models.TextChoices):
    OWNER = "owner", "You wrote it"
    PROMISE = "promise", "A promise the company did not keep"
    ENGINE = "engine", "The assistant proposed it"


class FollowUp(models.Model):
    """A message to send in a conversation at a later time; fired once by the sweeper (followups.py)."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="followups")
    due_at = models.DateTimeField()
    text = models.TextField(blank=True, help_text="Empty: the assistant's standard follow-up is sent.")
    unless_reply = models.BooleanField(
        default=True, help_text="Skip it when the company writes before it is due."
    )
    status = models.CharField(max_length=10, choices=FollowUpStatus.choices, default=FollowUpStatus.SCHEDULED)
    source = models.CharField(max_length=10, choices=FollowUpSource.choices, default=FollowUpSource.OWNER)
    why = models.TextField(blank=True, help_text="Why it was scheduled; why it was skipped or held.")
    # The newest inbound message when it was scheduled: a newer one is the company answering first.
    answered_through = models.BigIntegerField(default=0)
    confidence = models.FloatField(default=0.0, help_text="The engine's confidence (engine and promise).")
    promise = models.ForeignKey(
        "Promise", null=True, blank=True, on_delete=models.SET_NULL, related_name="followups"
    )
    draft = models.ForeignKey(Draft, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    fired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["status", "due_at"], name="followup_status_due")]

    def __str__(self) -> str:
        return f"Follow-up #{self.pk} ({self.status}) due {self.due_at:%Y-%m-%d %H:%M}"


class PromiseStatus(models.TextChoices):
    OPEN = "open", "Open"
    KEPT = "kept", "Kept"
    FOLLOWED_UP = "followed_up", "Followed up"
    DISMISSED = "dismissed", "Dismissed"


class Promise(models.Model):
    """What a company said it would do by a time; chased with a follow-up when due (promises.py)."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="promises")
    what = models.CharField(max_length=300)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=PromiseStatus.choices, default=PromiseStatus.OPEN)
    words = models.CharField(max_length=300, blank=True, help_text="The company's words that set the time.")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source = models.CharField(max_length=40, blank=True, help_text="The engine that read it.")
    confidence = models.FloatField(default=0.0)
    created_at = models.DateTimeField(default=timezone.now)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["status", "due_at"], name="promise_status_due")]
        constraints = [
            models.UniqueConstraint(fields=["message", "what"], name="one_promise_per_message_and_what")
        ]

    def __str__(self) -> str:
        return f"Promise #{self.pk}: {self.what} by {self.due_at:%Y-%m-%d}"


class CallOutcome(models.TextChoices):
    """What the assistant did with one phone call (docs/architecture.md, "Phone calls")."""

    IN_PROGRESS = "", "In progress"
    ANSWERED = "answered", "Answered on your behalf"
    MESSAGE_TAKEN = "message_taken", "Took a message for you"
    PUT_THROUGH = "put_through", "Put through to you"
    ENDED = "ended", "Ended politely (ignored or spam)"
    NO_SPEECH = "no_speech", "The caller said nothing"


class Call(models.Model):
    """One phone call on a `voice` conversation: Twilio's CallSid, status, duration and what happened.

    The transcript is the conversation's messages whose metadata carries this call's sid.
    """

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="calls")
    call_sid = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=20, blank=True, help_text="Twilio's CallStatus, e.g. completed.")
    duration = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds (CallDuration).")
    outcome = models.CharField(max_length=16, choices=CallOutcome.choices, default="", blank=True)
    turns = models.PositiveSmallIntegerField(default=0, help_text="Speech turns heard.")
    summary = models.TextField(blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Call {self.call_sid} ({self.status or 'in progress'})"


class OwnerCommandOutcome(models.TextChoices):
    PENDING = "pending", "Not yet handled"
    DONE = "done", "Done"
    REFUSED = "refused", "Refused"


class OwnerCommand(models.Model):
    """A message from the owner's own number: a command, never a company's conversation.

    Unique per account and provider message id, so a redelivered webhook acts once.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="+")
    provider_message_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, default="text")
    text = models.TextField(blank=True)
    action = models.CharField(max_length=16, blank=True)
    draft = models.ForeignKey("Draft", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    outcome = models.CharField(
        max_length=10, choices=OwnerCommandOutcome.choices, default=OwnerCommandOutcome.PENDING
    )
    reply = models.TextField(blank=True)
    # The newest message shown in a "the conversation moved on" refusal: the same command again confirms it.
    stale_through = models.BigIntegerField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "provider_message_id"], name="unique_owner_command")
        ]
        indexes = [models.Index(fields=["owner", "account", "-received_at"], name="owner_command_recent")]

    def __str__(self) -> str:
        return f"Command #{self.pk} ({self.outcome})"


class OwnerNoticeKind(models.TextChoices):
    NOTICE = "notice", "Notification"
    REPLY = "reply", "Answer to a command"


class OwnerNoticeStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    HELD = "held", "Held until you next write (24-hour window closed)"
    FAILED = "failed", "Failed"


class OwnerNotice(models.Model):
    """A message to the owner's own number: kept, so one held by WhatsApp's window is sent later."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=OwnerNoticeKind.choices, default=OwnerNoticeKind.NOTICE)
    text = models.TextField()
    draft = models.ForeignKey("Draft", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The account to send from (the one the owner last wrote to), when known.
    account = models.ForeignKey(
        ChannelAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=8, choices=OwnerNoticeStatus.choices, default=OwnerNoticeStatus.QUEUED
    )
    via_template = models.BooleanField(default=False)
    provider_message_id = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["owner", "status"], name="owner_notice_status")]

    def __str__(self) -> str:
        return f"Note #{self.pk} to owner ({self.status})"
