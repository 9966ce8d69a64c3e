"""The admin: see and edit everything; state changes (approve, reject, take over, release) go through services."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.text import Truncator

from conversations import services
from conversations.models import (
    ChannelAccount,
    Contact,
    Conversation,
    Draft,
    DraftStatus,
    Escalation,
    Fact,
    Message,
    OwnerSettings,
    Rule,
    User,
)

#: What the changelist shows instead of a private fact's value.
MASK = "••••••"


def _pretty_json(value: object) -> str:
    return format_html(
        "<pre style='white-space:pre-wrap'>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False)
    )


def _short(text: str, length: int = 80) -> str:
    return Truncator(text).chars(length)


def _report(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    act: Callable[[int], object],
    done: str,
) -> None:
    """Call a service once per selected object; say how many worked and why each refusal happened."""
    succeeded = 0
    for pk in queryset.order_by("pk").values_list("pk", flat=True):
        try:
            act(pk)
        except services.ActionRefused as refusal:
            modeladmin.message_user(request, f"#{pk}: {refusal}", messages.WARNING)
        else:
            succeeded += 1
    if succeeded:
        modeladmin.message_user(request, f"{succeeded} {done}.", messages.SUCCESS)


class OwnerSettingsInline(admin.StackedInline):
    """The owner's settings on the user page."""

    model = OwnerSettings
    can_delete = False
    extra = 0


@admin.register(User)
class GatekeeperUserAdmin(UserAdmin):
    """Django's user admin, with the owner's Gatekeeper settings alongside."""

    inlines = [OwnerSettingsInline]


@admin.register(OwnerSettings)
class OwnerSettingsAdmin(admin.ModelAdmin):
    """How much each owner delegates."""

    list_display = ["owner", "approval_mode", "confidence_threshold", "notify_email", "notify_whatsapp"]
    list_filter = ["approval_mode"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner"]


@admin.register(ChannelAccount)
class ChannelAccountAdmin(admin.ModelAdmin):
    """The owners' WhatsApp numbers and web-chat pages."""

    list_display = ["__str__", "provider", "address", "owner", "created_at"]
    list_filter = ["provider"]
    list_select_related = ["owner"]
    search_fields = ["address", "name"]
    raw_id_fields = ["owner"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    """Who writes to the owners; set a category to pin a contact to it."""

    list_display = ["__str__", "address", "phone", "category", "owner", "created_at"]
    list_filter = ["category"]
    list_select_related = ["owner"]
    search_fields = ["name", "address", "phone"]
    raw_id_fields = ["owner"]


class MessageInline(admin.TabularInline):
    """The conversation's messages, oldest first, as they were."""

    model = Message
    fields = ["created_at", "direction", "author", "kind", "text", "status", "error_code", "error_detail"]
    readonly_fields = fields
    ordering = ["id"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        """Rows here are written by the pipeline, not by hand."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        """A record of what happened; shown, not edited."""
        return False


class DraftInline(admin.TabularInline):
    """The conversation's drafts, oldest first; decide them on the draft page or with the draft actions."""

    model = Draft
    fields = ["created_at", "status", "text", "category", "confidence", "decision", "decided_at"]
    readonly_fields = fields
    ordering = ["id"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        """Rows here are written by the pipeline, not by hand."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        """A record of what happened; shown, not edited."""
        return False


class EscalationInline(admin.TabularInline):
    """The moments the owner was needed in this conversation."""

    model = Escalation
    fields = ["created_at", "reason", "detail", "notified_at"]
    readonly_fields = fields
    ordering = ["id"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        """Rows here are written by the pipeline, not by hand."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        """A record of what happened; shown, not edited."""
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Conversations with their messages and drafts; pausing the bot goes through the services."""

    list_display = ["contact", "account", "category", "status", "bot_paused", "last_inbound_at", "updated_at"]
    list_filter = ["status", "bot_paused", "category", "account__provider"]
    list_select_related = ["contact", "account"]
    search_fields = ["contact__name", "contact__address", "contact__phone"]
    date_hierarchy = "created_at"
    raw_id_fields = ["owner", "account", "contact", "rule"]
    # Pausing and the pending-work bookkeeping change only through services and jobs.
    readonly_fields = [
        "status",
        "bot_paused",
        "last_inbound_at",
        "reply_due_at",
        "handled_through",
        "draft_attempts",
        "created_at",
        "updated_at",
    ]
    inlines = [MessageInline, DraftInline, EscalationInline]
    actions = ["take_over_selected", "release_selected"]

    @admin.action(
        permissions=["change"], description="Take over selected conversations (pause the assistant)"
    )
    def take_over_selected(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        """Pause the bot through `conversation_take_over`, which also withdraws pending drafts."""
        _report(
            self,
            request,
            queryset,
            lambda pk: services.conversation_take_over(conversation_id=pk, by=request.user),
            "conversation(s) taken over",
        )

    @admin.action(permissions=["change"], description="Release selected conversations to the assistant")
    def release_selected(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        """Hand conversations back through `conversation_release`."""
        _report(
            self,
            request,
            queryset,
            lambda pk: services.conversation_release(conversation_id=pk, by=request.user),
            "conversation(s) released",
        )


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Messages as received and sent, with the provider's raw payload; read-only."""

    list_display = ["id", "conversation", "direction", "author", "kind", "short_text", "status", "created_at"]
    list_filter = ["direction", "author", "status", "kind", "account__provider"]
    list_select_related = ["conversation__contact", "conversation__account"]
    search_fields = [
        "text",
        "provider_message_id",
        "conversation__contact__name",
        "conversation__contact__address",
    ]
    fields = [
        "conversation",
        "account",
        "direction",
        "author",
        "kind",
        "text",
        "status",
        "provider_message_id",
        "error_code",
        "error_detail",
        "reply_to",
        "draft",
        "sent_at",
        "attempts",
        "next_attempt_at",
        "created_at",
        "updated_at",
        "metadata_json",
        "raw_json",
    ]
    readonly_fields = ["metadata_json", "raw_json"]

    @admin.display(description="text")
    def short_text(self, message: Message) -> str:
        """The start of the text, so the list stays one line a row."""
        return _short(message.text)

    @admin.display(description="metadata")
    def metadata_json(self, message: Message) -> str:
        """Metadata, pretty-printed and read-only."""
        return _pretty_json(message.metadata)

    @admin.display(description="raw payload")
    def raw_json(self, message: Message) -> str:
        """The provider's payload as received, pretty-printed and read-only."""
        return _pretty_json(message.raw)

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Rows here are written by the pipeline, not by hand."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Message | None = None) -> bool:
        """A record of what happened; shown, not edited."""
        return False


@admin.register(Draft)
class DraftAdmin(admin.ModelAdmin):
    """Replies waiting for approval; approving or rejecting goes through the services, one by one."""

    list_display = ["id", "status", "conversation", "category", "confidence", "short_text", "created_at"]
    list_filter = ["status", "category"]
    list_select_related = ["conversation__contact", "conversation__account"]
    search_fields = ["text", "conversation__contact__name", "conversation__contact__address"]
    date_hierarchy = "created_at"
    fields = [
        "conversation",
        "status",
        "text",
        "category",
        "confidence",
        "reason",
        "engine",
        "guards_json",
        "decision",
        "reply_to",
        "answers_through",
        "decided_by",
        "decided_at",
        "created_at",
    ]
    actions = ["approve_selected", "reject_selected"]

    def get_readonly_fields(self, request: HttpRequest, obj: Draft | None = None) -> list[str]:
        """Only a pending draft's text may be edited; saving an edit never sends it."""
        editable = {"text"} if obj is not None and obj.status == DraftStatus.PENDING else set()
        return [name for name in self.fields if name not in editable]

    @admin.display(description="text")
    def short_text(self, draft: Draft) -> str:
        """The start of the text, so the list stays one line a row."""
        return _short(draft.text)

    @admin.display(description="guards")
    def guards_json(self, draft: Draft) -> str:
        """The guards that fired, pretty-printed."""
        return _pretty_json(draft.guards)

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Rows here are written by the pipeline, not by hand."""
        return False

    def has_approve_permission(self, request: HttpRequest) -> bool:
        """Sending on the owner's behalf is its own permission, apart from editing a draft's text."""
        return request.user.has_perm("conversations.approve_draft")

    @admin.action(permissions=["approve"], description="Approve selected drafts")
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Draft]) -> None:
        """Approve each draft through `draft_approve`, which queues its send; refusals are reported."""
        _report(
            self,
            request,
            queryset,
            lambda pk: services.draft_approve(draft_id=pk, by=request.user),
            "draft(s) approved and queued for sending",
        )

    @admin.action(permissions=["approve"], description="Reject selected drafts")
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[Draft]) -> None:
        """Reject each draft through `draft_reject`; refusals are reported."""
        _report(
            self,
            request,
            queryset,
            lambda pk: services.draft_reject(draft_id=pk, by=request.user),
            "draft(s) rejected",
        )


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    """What happens to each category of conversation, per owner."""

    list_display = ["category", "action", "owner", "short_instructions"]
    list_filter = ["action"]
    list_select_related = ["owner"]
    search_fields = ["category", "instructions"]
    raw_id_fields = ["owner"]

    @admin.display(description="instructions")
    def short_instructions(self, rule: Rule) -> str:
        """The start of the instructions, so the list stays one line a row."""
        return _short(rule.instructions)


@admin.register(Fact)
class FactAdmin(admin.ModelAdmin):
    """What the assistant may know; private values stay masked in the list."""

    list_display = ["key", "shown_value", "private", "owner"]
    list_filter = ["private"]
    list_select_related = ["owner"]
    search_fields = ["key"]
    raw_id_fields = ["owner"]

    @admin.display(description="value")
    def shown_value(self, fact: Fact) -> str:
        """Private values never appear in the list, even to the owner's admin."""
        return MASK if fact.private else _short(fact.value)


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    """When the owner was needed, and whether they were told; a record, so read-only."""

    list_display = ["id", "reason", "conversation", "created_at", "notified_at"]
    list_filter = ["reason", ("notified_at", admin.EmptyFieldListFilter)]
    list_select_related = ["conversation__contact", "conversation__account"]
    search_fields = ["detail", "conversation__contact__name", "conversation__contact__address"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Rows here are written by the pipeline, not by hand."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Escalation | None = None) -> bool:
        """A record of what happened; shown, not edited."""
        return False
