"""REST shapes of the owner's objects; writes that change state go through `conversations.services`."""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from conversations.models import (
    Call,
    CategorySource,
    ChannelAccount,
    Contact,
    Conversation,
    ConversationStatus,
    Draft,
    DraftStatus,
    Fact,
    Message,
    MessageStatus,
    OwnerSettings,
    Rule,
    validate_time_zone,
)
from conversations.phones import owner_number

#: Longest list of senders or keywords a rule may carry, and the longest entry.
MATCH_LIST_MAX_ITEMS = 200
MATCH_ITEM_MAX_LENGTH = 200


class NamedChoiceField(serializers.ChoiceField):
    """A choice field documented as one named enum, so several objects can share it without a clash."""

    def __init__(self, *args: object, enum_name: str, **kwargs: object) -> None:
        self.enum_name = enum_name
        super().__init__(*args, **kwargs)


class NamedChoiceFieldExtension(OpenApiSerializerFieldExtension):
    """Tell drf-spectacular to break a `NamedChoiceField` out into its own schema component."""

    target_class = NamedChoiceField
    match_subclasses = True

    def get_name(self) -> str:
        """The component's name, e.g. `ConversationStatusEnum`."""
        return self.target.enum_name

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        """drf-spectacular's own enum schema, minus where-used details."""
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        schema.pop("readOnly", None)  # a property of where the enum is used, not of the enum
        return schema


class ErrorSerializer(serializers.Serializer):
    """The body of a refused request (404, 409, ...), so the schema documents it."""

    detail = serializers.CharField()


class OwnerSettingsSerializer(serializers.ModelSerializer):
    """How much the owner delegates; the owner is always the requesting user."""

    confidence_threshold = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    digest_hour = serializers.IntegerField(
        min_value=0,
        max_value=23,
        allow_null=True,
        required=False,
        help_text="The hour (0-23, in `time_zone`) of the daily digest of what was answered, what waits and "
        "what was escalated; null: no digest. Nothing is sent on a day when nothing happened.",
    )
    time_zone = serializers.CharField(
        max_length=64,
        required=False,
        help_text="An IANA time-zone name, e.g. America/Sao_Paulo; the digest and follow-ups use it.",
    )

    class Meta:
        model = OwnerSettings
        fields = [
            "approval_mode",
            "confidence_threshold",
            "persona",
            "notify_email",
            "notify_whatsapp",
            "notify_template",
            "notify_template_language",
            "forward_calls_to",
            "digest_hour",
            "time_zone",
            "last_digest_at",
        ]
        read_only_fields = ["last_digest_at"]

    def validate_confidence_threshold(self, value: float) -> float:
        """NaN passes min/max comparisons, so refuse it explicitly."""
        if not math.isfinite(value):
            raise serializers.ValidationError("Must be a number from 0 to 1.")
        return value

    def validate_notify_whatsapp(self, value: str) -> str:
        """The owner's own number, stored in E.164; a 400 says why one cannot be reached."""
        return _owner_number(value)

    def validate_forward_calls_to(self, value: str) -> str:
        """The number calls are put through to (`<Dial>`), stored in E.164; a 400 says why not."""
        return _owner_number(value)

    def validate_time_zone(self, value: str) -> str:
        """A zone the server knows, spelled as the zone database spells it."""
        try:
            validate_time_zone(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from error
        return value


def _owner_number(value: str) -> str:
    try:
        return owner_number(value)
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.messages) from error


def _match_list(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=MATCH_ITEM_MAX_LENGTH),
        max_length=MATCH_LIST_MAX_ITEMS,
        required=False,
        help_text=help_text,
    )


class _OwnedUniqueMixin:
    """Report a duplicate of an owner-unique field as a 400 naming the field, before the database does."""

    def _refuse_duplicate(self, model, field: str, value: str, message: str) -> None:
        owner = self.context["request"].user
        duplicates = model.objects.filter(owner=owner, **{field: value})
        if self.instance is not None:
            duplicates = duplicates.exclude(pk=self.instance.pk)
        if duplicates.exists():
            raise serializers.ValidationError(message)


class RuleSerializer(_OwnedUniqueMixin, serializers.ModelSerializer):
    """What happens to one category of conversation; one rule per category per owner."""

    match_senders = _match_list(
        "Sender numbers (E.164) or provider ids that belong to this category. A company name here never "
        "matches by itself: it marks senders who use it from another address as unverified."
    )
    match_keywords = _match_list("Words that put a conversation in this category.")

    class Meta:
        model = Rule
        fields = ["id", "category", "action", "instructions", "match_senders", "match_keywords"]

    def validate_category(self, value: str) -> str:
        """One rule per category: a second one would make the policy ambiguous."""
        self._refuse_duplicate(
            Rule, "category", value, f"You already have a rule for the category {value!r}; edit that one."
        )
        return value

    def validate_match_senders(self, value: list[str]) -> list[str]:
        """Drop repeated entries, keeping the owner's order."""
        return list(dict.fromkeys(value))

    def validate_match_keywords(self, value: list[str]) -> list[str]:
        """Drop repeated entries, keeping the owner's order."""
        return list(dict.fromkeys(value))


class FactSerializer(_OwnedUniqueMixin, serializers.ModelSerializer):
    """Something the assistant may know; private facts are never shared or sent unapproved."""

    share_with = serializers.ListField(
        child=serializers.SlugField(max_length=64),
        max_length=MATCH_LIST_MAX_ITEMS,
        required=False,
        help_text="Shareable facts only: the categories that may be told this fact (empty: every category).",
    )

    class Meta:
        model = Fact
        fields = ["id", "key", "value", "private", "share_with"]

    def validate_share_with(self, value: list[str]) -> list[str]:
        """Drop repeated categories, keeping the owner's order."""
        return list(dict.fromkeys(value))

    def validate(self, attrs: dict) -> dict:
        """A private fact is shared with nobody: naming categories for one is a mistake worth saying."""
        private = attrs.get("private", self.instance.private if self.instance else True)
        share_with = attrs.get("share_with", self.instance.share_with if self.instance else [])
        if private and share_with:
            raise serializers.ValidationError(
                {"share_with": "A private fact is never shared; set private to false to share it."}
            )
        return attrs

    def validate_key(self, value: str) -> str:
        """One value per key, or the assistant could not tell which one is true."""
        self._refuse_duplicate(
            Fact, "key", value, f"You already have a fact called {value!r}; edit that one."
        )
        return value


class ContactSerializer(serializers.ModelSerializer):
    """Who the conversation is with."""

    class Meta:
        model = Contact
        fields = ["address", "name"]


class AccountSerializer(serializers.ModelSerializer):
    """Which of the owner's numbers or chat pages the conversation arrived on."""

    class Meta:
        model = ChannelAccount
        fields = ["id", "provider", "address", "name"]


class MessageSerializer(serializers.ModelSerializer):
    """One message in or out, with the provider's error when delivery failed."""

    status = NamedChoiceField(MessageStatus.choices, enum_name="MessageStatusEnum", read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "direction",
            "author",
            "text",
            "kind",
            "status",
            "created_at",
            "sent_at",
            "error_code",
            "error_detail",
            "draft",
        ]
        read_only_fields = fields


class ConversationSerializer(serializers.ModelSerializer):
    """A conversation without its messages: cheap enough for the list."""

    channel = serializers.CharField(source="account.provider", read_only=True)
    status = NamedChoiceField(ConversationStatus.choices, enum_name="ConversationStatusEnum", read_only=True)
    account = AccountSerializer(read_only=True)
    contact = ContactSerializer(read_only=True)
    pending_drafts = serializers.IntegerField(
        read_only=True, help_text="Drafts of this conversation waiting for your approval."
    )
    category_source = NamedChoiceField(
        CategorySource.choices,
        enum_name="CategorySourceEnum",
        read_only=True,
        help_text="Who said what the conversation is about; only contact, sender or keyword (your own data) "
        "lets a reply go out by itself.",
    )
    claims_to_be = serializers.SerializerMethodField(
        help_text="The company you know that this unknown sender's display name resembles (unverified), else null."
    )

    class Meta:
        model = Conversation
        fields = [
            "id",
            "channel",
            "account",
            "contact",
            "category",
            "category_source",
            "claims_to_be",
            "status",
            "bot_paused",
            "pending_drafts",
            "last_inbound_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_claims_to_be(self, conversation: Conversation) -> str | None:
        return conversation.claims_to_be or None


class CallSerializer(serializers.ModelSerializer):
    """One phone call on a `voice` conversation; its transcript is the messages carrying its `call_sid`."""

    class Meta:
        model = Call
        fields = ["call_sid", "status", "duration", "outcome", "turns", "summary", "started_at", "ended_at"]
        read_only_fields = fields


class ConversationDetailSerializer(ConversationSerializer):
    """A conversation with all its messages, oldest first (and, on the `voice` channel, its calls)."""

    messages = MessageSerializer(many=True, read_only=True)
    calls = CallSerializer(many=True, read_only=True, help_text="Phone calls, newest first; empty elsewhere.")

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "messages", "calls"]
        read_only_fields = fields


class DraftSerializer(serializers.ModelSerializer):
    """A reply the engine proposed and the policy's verdict on it; read-only, acted on by approve/reject."""

    contact = ContactSerializer(source="conversation.contact", read_only=True)
    status = NamedChoiceField(DraftStatus.choices, enum_name="DraftStatusEnum", read_only=True)
    stale = serializers.BooleanField(
        source="is_stale",
        read_only=True,
        default=False,
        help_text="Pending, but the conversation moved on since it was written (a newer provider message "
        "or your own reply): approving needs `seen_through`.",
    )
    decided_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text="Who approved, rejected or withdrew it."
    )

    class Meta:
        model = Draft
        fields = [
            "id",
            "conversation",
            "contact",
            "status",
            "text",
            "category",
            "confidence",
            "reason",
            "guards",
            "decision",
            "engine",
            "reply_to",
            "stale",
            "created_at",
            "decided_by",
            "decided_at",
        ]
        read_only_fields = fields


class DraftApproveSerializer(serializers.Serializer):
    """Approve as drafted, or send your edited text instead."""

    text = serializers.CharField(
        required=False, help_text="Your edited reply; leave out to send the draft as it is."
    )
    seen_through = serializers.IntegerField(
        required=False,
        min_value=0,
        help_text="For a stale draft: the id of the newest message of the conversation you have read "
        "(`newest_message` of the 409 answer). Without it a stale draft is refused.",
    )


class DraftRefusedSerializer(serializers.Serializer):
    """Why an approval was refused; a stale draft also says which message to confirm having read."""

    detail = serializers.CharField()
    code = serializers.ChoiceField(
        choices=["stale_draft"], required=False, help_text="Present only when the draft is stale."
    )
    newest_message = serializers.IntegerField(
        required=False,
        help_text="Stale drafts only: send this back as `seen_through` once you have read the conversation.",
    )


class ReplySerializer(serializers.Serializer):
    """The owner's own words for the contact."""

    text = serializers.CharField(
        help_text="What to send; answering by hand also takes the conversation over."
    )


class ReplyResultSerializer(serializers.Serializer):
    """The messages queued for delivery (a long reply is split to the provider's limit)."""

    messages = MessageSerializer(many=True, read_only=True)
