"""The rest of the admin: users and tokens, channel accounts, contacts, messages and escalations, owner-scoped."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.text import Truncator
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from conversations import configuration, deliveries
from conversations.admin.filters import OwnedCategoryFilter
from conversations.admin.owner_config import ChannelAccountForm
from conversations.admin.scoping import OwnerScopedAdmin, RecordAdmin
from conversations.models import ChannelAccount, Contact, Delivery, Escalation, Message, OwnerSettings, User
from conversations.selectors import owned
from conversations.templatetags.review import conversation_url

#: Account fields only a superuser may change: they grant powers.
PRIVILEGED_USER_FIELDS = ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]


def _pretty_json(value: object) -> str:
    return format_html('<pre class="gk-json">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False))


class OwnerSettingsInline(admin.StackedInline):
    """The owner's settings on the user page (saved through the audited service)."""

    model = OwnerSettings
    can_delete = False
    extra = 0


@admin.register(User)
class GatekeeperUserAdmin(UserAdmin):
    """Django's user admin with the owner's settings; a staff owner sees only their own account."""

    inlines = [OwnerSettingsInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        """A staff owner's own account only."""
        return owned(super().get_queryset(request), request.user, "pk")

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> list[str]:
        """A staff owner cannot grant themselves powers."""
        fields = list(super().get_readonly_fields(request, obj))
        return fields if request.user.is_superuser else [*fields, *PRIVILEGED_USER_FIELDS]

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Owners are added by a superuser (or `gatekeeper_setup`)."""
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        """Only a superuser removes an owner (and with them their records)."""
        return request.user.is_superuser

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Settings edited on the user page are saved through the audited service."""
        if formset.model is not OwnerSettings:
            super().save_formset(request, form, formset, change)
            return
        for owner_settings in formset.save(commit=False):
            configuration.owner_settings_save(owner_settings=owner_settings, by=request.user)


admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class ScopedTokenAdmin(OwnerScopedAdmin, TokenAdmin):
    """API tokens; a staff owner sees and creates only their own."""

    owner_path = "user"


@admin.register(ChannelAccount)
class ChannelAccountAdmin(OwnerScopedAdmin):
    """The owners' WhatsApp numbers and web-chat pages."""

    form = ChannelAccountForm
    list_display = ["__str__", "provider", "address", "owner", "created_at"]
    list_filter = ["provider"]
    list_select_related = ["owner"]
    search_fields = ["address", "name"]
    raw_id_fields = ["owner"]

    def has_delete_permission(self, request: HttpRequest, obj: ChannelAccount | None = None) -> bool:
        """Deleting an account deletes its conversations and their history: superusers only."""
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Numbers and chat pages are linked by an operator or `gatekeeper_setup`, never claimed by an owner."""
        return request.user.is_superuser and super().has_add_permission(request)

    def get_readonly_fields(self, request: HttpRequest, obj: ChannelAccount | None = None) -> list[str]:
        """An owner sets their template and the widget's sites, never which number or page it is."""
        fields = list(super().get_readonly_fields(request, obj))
        return fields if request.user.is_superuser else [*fields, "provider", "address"]


@admin.register(Contact)
class ContactAdmin(OwnerScopedAdmin):
    """Who writes to the owners; set a category to pin a contact to it."""

    list_display = [
        "__str__",
        "address",
        "phone",
        "user_id",
        "category",
        "put_through",
        "owner",
        "created_at",
    ]
    list_filter = ["category"]
    list_select_related = ["owner"]
    search_fields = ["name", "address", "phone", "user_id"]
    raw_id_fields = ["owner"]
    # WhatsApp's identifiers and its identity notice; confirming one is an action on the conversation.
    readonly_fields = ["user_id", "parent_user_id", "identity_changed_at"]

    def get_list_filter(self, request: HttpRequest) -> list:
        """Category names are filtered only from the owner's own contacts."""
        return ["category"] if request.user.is_superuser else [OwnedCategoryFilter]

    def has_delete_permission(self, request: HttpRequest, obj: Contact | None = None) -> bool:
        """Deleting a contact deletes its conversations and their history: superusers only."""
        return request.user.is_superuser and super().has_delete_permission(request, obj)


@admin.register(Message)
class MessageAdmin(RecordAdmin):
    """Messages as received and sent, with the provider's raw payload; read-only."""

    owner_path = "conversation__owner"
    list_display = [
        "id",
        "conversation_shown",
        "direction",
        "author",
        "kind",
        "short_text",
        "status",
        "created_at",
    ]
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
        "accepted_at",
        "attempts",
        "next_attempt_at",
        "created_at",
        "updated_at",
        "metadata_json",
        "raw_json",
    ]
    readonly_fields = ["metadata_json", "raw_json"]

    @admin.display(description="conversation")
    def conversation_shown(self, message: Message) -> str:
        """A link to the conversation's chat page."""
        return format_html(
            '<a href="{}">{}</a>', conversation_url(message.conversation_id), message.conversation
        )

    @admin.display(description="text")
    def short_text(self, message: Message) -> str:
        """The start of the text, so the list stays one line a row."""
        return Truncator(message.text).chars(80)

    @admin.display(description="metadata")
    def metadata_json(self, message: Message) -> str:
        """Metadata, pretty-printed and read-only."""
        return _pretty_json(message.metadata)

    @admin.display(description="raw payload")
    def raw_json(self, message: Message) -> str:
        """The provider's payload as received, pretty-printed and read-only."""
        return _pretty_json(message.raw)


@admin.register(Escalation)
class EscalationAdmin(RecordAdmin):
    """When the owner was needed, and whether they were told; a record, so read-only."""

    owner_path = "conversation__owner"
    list_display = ["id", "reason", "conversation_shown", "created_at", "notified_at"]
    list_filter = ["reason", ("notified_at", admin.EmptyFieldListFilter)]
    list_select_related = ["conversation__contact", "conversation__account"]
    search_fields = ["detail", "conversation__contact__name", "conversation__contact__address"]
    date_hierarchy = "created_at"

    @admin.display(description="conversation")
    def conversation_shown(self, escalation: Escalation) -> str:
        """A link to the conversation's chat page."""
        return format_html(
            '<a href="{}">{}</a>', conversation_url(escalation.conversation_id), escalation.conversation
        )


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """Webhook bodies not ingested yet, or set aside after failing, for whoever runs the install.

    A body may carry several owners' messages, so only a superuser sees deliveries at all.
    """

    list_display = ["pk", "provider", "received_at", "attempts", "retry_at", "short_error"]
    list_filter = ["provider"]
    fields = ["provider", "received_at", "attempts", "retry_at", "error", "body_text"]
    readonly_fields = fields
    actions = ["try_again"]

    @admin.display(description="error")
    def short_error(self, obj: Delivery) -> str:
        return Truncator(obj.error).chars(80)

    @admin.display(description="body")
    def body_text(self, obj: Delivery) -> str:
        text = bytes(obj.body).decode("utf-8", errors="replace")
        try:
            return _pretty_json(json.loads(text))
        except ValueError:
            pass
        try:  # a form (Twilio's webhooks), shown field by field
            return _pretty_json(dict(parse_qsl(text, keep_blank_values=True, strict_parsing=True)))
        except ValueError:
            return format_html('<pre class="gk-json">{}</pre>', text)

    @admin.action(description="Try the selected deliveries again")
    def try_again(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        count = deliveries.try_again(list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} deliveries will be ingested again.")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        """Only through the action: a delivery's body is what the provider signed."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        """A superuser may drop one that can never be ingested."""
        return request.user.is_active and request.user.is_superuser
