"""The review queue and the conversation page: decide drafts, take over, hand back, reply by hand.

Every button and bulk action calls a service in `conversations.services`; nothing here
changes a row itself. Sends happen in jobs after the service's transaction commits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Max, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from conversations import identity, selectors, services
from conversations.admin.filters import (
    ConfidenceFilter,
    DraftStatusFilter,
    NeedsYouFilter,
    OwnedCategoryFilter,
    StaleFilter,
    titled,
)
from conversations.admin.followups import FollowUpAdminMixin, timeline
from conversations.admin.forms import APPROVE, REJECT, SAVE, DecisionForm, ReplyForm
from conversations.admin.scoping import OwnerScopedAdmin
from conversations.models import Conversation, ConversationStatus, Draft, DraftStatus, Message
from conversations.providers import get_provider
from conversations.templatetags.review import conversation_url, findings, highlight_draft, percent


def _back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    """Redirect to the page the button was on (`next`), if it is ours; else to `fallback`."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = fallback
    return HttpResponseRedirect(target)


def _report(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    act: Callable[[int], object],
    done: str,
    refused: Callable[[int, services.ActionRefused], str | SafeString] | None = None,
) -> None:
    """Call a service once per selected object; say how many worked and why each refusal happened."""
    succeeded = 0
    for pk in queryset.order_by("pk").values_list("pk", flat=True):
        try:
            act(pk)
        except services.ActionRefused as refusal:
            text = refused(pk, refusal) if refused else f"#{pk}: {refusal}"
            modeladmin.message_user(request, text, messages.WARNING)
        else:
            succeeded += 1
    if succeeded:
        modeladmin.message_user(request, f"{succeeded} {done}.", messages.SUCCESS)


# -- drafts ----------------------------------------------------------------------------------


def _goes_out(conversation: Conversation) -> str:
    """What happens to a queued reply: sent, or only printed when the channel has no provider configured."""
    if get_provider(conversation.account.provider).prints:
        return "will be printed in the server's log, not sent: no provider is configured for this channel."
    return "goes out in a moment."


@admin.register(Draft)
class DraftAdmin(OwnerScopedAdmin):
    """The review queue: pending drafts, newest first; decide one by one or in bulk."""

    owner_path = "conversation__owner"
    list_display = [
        "id",
        "contact_shown",
        "channel",
        "category",
        "short_text",
        "confidence_shown",
        "flags",
        "status",
        "created_at",
    ]
    list_display_links = ["id"]
    list_filter = [
        DraftStatusFilter,
        StaleFilter,
        ConfidenceFilter,
        ("conversation__account__provider", titled(admin.ChoicesFieldListFilter, "channel")),
        OwnedCategoryFilter,
        ("conversation__rule", titled(admin.RelatedOnlyFieldListFilter, "rule")),
    ]
    search_fields = [
        "text",
        "conversation__contact__name",
        "conversation__contact__address",
        "conversation__contact__phone",
    ]
    search_help_text = "Search the draft's text and the contact's name or number."
    actions = ["approve_selected", "reject_selected"]
    change_form_template = "admin/conversations/draft/change_form.html"

    class Media:
        css = {"all": ["conversations/review.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Draft]:
        """The owner's drafts with staleness, threshold and the conversation, in one query per page."""
        return selectors.for_review(super().get_queryset(request))

    def get_ordering(self, request: HttpRequest) -> list[str]:
        """Newest first."""
        return ["-created_at", "-id"]

    # -- the change page: everything read-only except a pending draft's text ------------------

    def get_fieldsets(self, request: HttpRequest, obj: Draft | None = None) -> list[tuple[str | None, dict]]:
        """The reply first, then why it was held, then who decided."""
        reply = ["conversation_link", "status", "highlighted_text"]
        if self._text_editable(request, obj):
            reply.append("text")
        return [
            (None, {"fields": reply}),
            (
                "Why it was held",
                {"fields": ["findings_shown", "confidence_shown", "reason", "decision", "engine"]},
            ),
            ("Decision", {"fields": ["decided_by", "decided_at", "created_at"]}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Draft | None = None) -> list[str]:
        """Every shown field but a pending draft's text; saving an edit never sends it."""
        shown = [name for _, options in self.get_fieldsets(request, obj) for name in options["fields"]]
        return [name for name in shown if name != "text" or not self._text_editable(request, obj)]

    def _text_editable(self, request: HttpRequest, obj: Draft | None) -> bool:
        return (
            obj is not None and obj.status == DraftStatus.PENDING and self.has_change_permission(request, obj)
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Drafts are written by the assistant, not by hand."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Draft | None = None) -> bool:
        """A decided or pending draft is part of the record."""
        return False

    def has_approve_permission(self, request: HttpRequest) -> bool:
        """Sending on the owner's behalf is its own permission, apart from editing a draft's text."""
        return request.user.has_perm("conversations.approve_draft")

    def save_model(self, request: HttpRequest, obj: Draft, form: Any, change: bool) -> None:
        """An edit goes through `draft_edit`, which records before and after and never sends."""
        try:
            services.draft_edit(draft_id=obj.pk, by=request.user, text=form.cleaned_data["text"])
        except services.ActionRefused as refusal:
            self.message_user(request, str(refusal), messages.ERROR)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        """The draft page also shows what the conversation said since the draft was written."""
        draft = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if draft is not None:
            newer = Message.objects.filter(
                conversation_id=draft.conversation_id, id__gt=draft.answers_through
            )
            context.update(
                newer_messages=list(newer.order_by("id")[:50]),
                newest_message_id=Message.objects.filter(conversation_id=draft.conversation_id).aggregate(
                    newest=Max("id")
                )["newest"]
                or 0,
                can_approve=draft.status == DraftStatus.PENDING and self.has_approve_permission(request),
                decide_url=reverse("admin:conversations_draft_decide", args=[draft.pk]),
                back_url=conversation_url(draft.conversation_id, f"draft-{draft.pk}"),
            )
        return super().change_view(request, object_id, form_url, context)

    # -- columns -------------------------------------------------------------------------------

    @admin.display(description="contact", ordering="conversation__contact__name")
    def contact_shown(self, draft: Draft) -> str:
        """Who the reply is for, linking to the conversation at this draft."""
        return format_html(
            '<a href="{}">{}</a>',
            conversation_url(draft.conversation_id, f"draft-{draft.pk}"),
            draft.conversation.contact,
        )

    @admin.display(description="channel", ordering="conversation__account__provider")
    def channel(self, draft: Draft) -> str:
        """WhatsApp (Meta or Twilio) or web chat."""
        return draft.conversation.account.get_provider_display()

    @admin.display(description="reply")
    def short_text(self, draft: Draft) -> str:
        """The start of the text, so the list stays one line a row."""
        return Truncator(draft.text).chars(90)

    @admin.display(description="confidence", ordering="confidence")
    def confidence_shown(self, draft: Draft) -> str:
        """How sure the assistant was; below the owner's threshold in the warning colour."""
        low = draft.confidence < getattr(draft, "owner_threshold", 0)
        return format_html(
            '<span class="gk-confidence{}">{}</span>', " gk-low" if low else "", percent(draft.confidence)
        )

    @admin.display(description="needs a look because")
    def flags(self, draft: Draft) -> str:
        """Stale, and every guard that fired, as badges."""
        badges = [(f"gk-guard-{f.guard}", f.label, f.detail) for f in findings(draft)]
        if getattr(draft, "is_stale", False):
            badges.insert(
                0, ("gk-stale", "Conversation moved on", "Newer messages since this draft was written.")
            )
        return format_html_join(
            " ", '<span class="gk-badge {}" title="{}">{}</span>', ((c, t, label) for c, label, t in badges)
        )

    @admin.display(description="conversation")
    def conversation_link(self, draft: Draft) -> str:
        """The conversation this draft answers."""
        return format_html(
            '<a href="{}">{}</a>',
            conversation_url(draft.conversation_id, f"draft-{draft.pk}"),
            draft.conversation,
        )

    @admin.display(description="draft, offending words highlighted")
    def highlighted_text(self, draft: Draft) -> str:
        """The text as the assistant wrote it, with what each guard found marked."""
        return format_html('<div class="gk-text">{}</div>', highlight_draft(draft))

    @admin.display(description="guards that fired")
    def findings_shown(self, draft: Draft) -> str:
        """Each guard in plain words, with what it found."""
        found = findings(draft)
        if not found:
            return "None"
        return format_html_join(
            "",
            '<div class="gk-finding"><span class="gk-badge gk-guard-{}">{}</span> {} <span class="gk-words">{}</span></div>',
            ((f.guard, f.label, f.detail, ", ".join(f"“{w}”" for w in f.words)) for f in found),
        )

    # -- decisions -----------------------------------------------------------------------------

    def get_urls(self) -> list:
        """The decide button's endpoint, ahead of the default routes."""
        decide = path(
            "<path:object_id>/decide/",
            self.admin_site.admin_view(self.decide_view),
            name="conversations_draft_decide",
        )
        return [decide, *super().get_urls()]

    def decide_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Approve (as shown or edited), save the text, or reject one draft, through the services."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        draft = self.get_object(request, unquote(object_id))
        if draft is None:
            raise Http404("No such draft.")
        form = DecisionForm(request.POST)
        back = conversation_url(draft.conversation_id, f"draft-{draft.pk}")
        if not form.is_valid():
            self.message_user(request, "That request was not understood; nothing changed.", messages.ERROR)
            return _back(request, back)
        decision = form.cleaned_data["decision"]
        if decision == SAVE and not self.has_change_permission(request, draft):
            raise PermissionDenied
        if decision in (APPROVE, REJECT) and not self.has_approve_permission(request):
            raise PermissionDenied
        text = form.cleaned_data["text"] if "text" in request.POST else None
        try:
            if decision == APPROVE:
                services.draft_approve(
                    draft_id=draft.pk,
                    by=request.user,
                    text=text,
                    seen_through=form.cleaned_data["seen_through"],
                )
                self.message_user(
                    request,
                    f"Approved: the reply is queued and {_goes_out(draft.conversation)}",
                    messages.SUCCESS,
                )
            elif decision == SAVE:
                services.draft_edit(draft_id=draft.pk, by=request.user, text=text or "")
                self.message_user(request, "Saved your edits; nothing was sent.", messages.SUCCESS)
            else:
                services.draft_reject(draft_id=draft.pk, by=request.user)
                self.message_user(request, "Rejected: nothing was sent.", messages.SUCCESS)
        except services.StaleDraft as stale:
            self.message_user(request, str(stale), messages.WARNING)
            return HttpResponseRedirect(back)
        except services.ActionRefused as refusal:
            self.message_user(request, str(refusal), messages.WARNING)
        return _back(request, back)

    @admin.action(permissions=["approve"], description="Approve selected drafts and send them")
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Draft]) -> None:
        """Approve each draft through `draft_approve`, which queues its send; stale ones are left for a look."""
        conversations = dict(queryset.values_list("pk", "conversation_id"))

        def refused(pk: int, refusal: services.ActionRefused) -> str | SafeString:
            if isinstance(refusal, services.StaleDraft):
                return format_html(
                    '#{}: {} <a href="{}">Open the conversation</a>.',
                    pk,
                    refusal.staleness.describe(),
                    conversation_url(conversations[pk], f"draft-{pk}"),
                )
            return f"#{pk}: {refusal}"

        _report(
            self,
            request,
            queryset,
            lambda pk: services.draft_approve(draft_id=pk, by=request.user),
            "draft(s) approved and queued for sending",
            refused,
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


# -- conversations ---------------------------------------------------------------------------


@admin.register(Conversation)
class ConversationAdmin(FollowUpAdminMixin, OwnerScopedAdmin):
    """Conversations, most urgent first; each opens as a chat with its drafts, actions and history."""

    list_display = [
        "contact_shown",
        "channel",
        "category",
        "rule",
        "status_shown",
        "assistant",
        "pending_shown",
        "last_inbound_at",
        "updated_at",
    ]
    list_display_links = None
    list_filter = [
        NeedsYouFilter,
        "status",
        ("account__provider", titled(admin.ChoicesFieldListFilter, "channel")),
        OwnedCategoryFilter,
        ("rule", titled(admin.RelatedOnlyFieldListFilter, "rule")),
        ("bot_paused", titled(admin.BooleanFieldListFilter, "taken over by you")),
    ]
    list_select_related = ["contact", "account", "rule"]
    search_fields = ["contact__name", "contact__address", "contact__phone", "messages__text"]
    search_help_text = "Search contacts by name or number, and everything that was written."
    actions = ["take_over_selected", "release_selected", "confirm_identity_selected"]
    change_form_template = "admin/conversations/conversation/change_form.html"

    class Media:
        css = {"all": ["conversations/review.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        """The owner's conversations with their pending-draft count and urgency (ordered once annotated)."""
        conversations = selectors.owned(Conversation.objects.all(), request.user, self.owner_path)
        return selectors.conversations_for_review(conversations).order_by(*self.get_ordering(request))

    def get_ordering(self, request: HttpRequest) -> list[str]:
        """Needing attention first, then with drafts waiting, then the rest; newest activity first."""
        return ["urgency", "-updated_at", "-id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Conversations start when a provider writes."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        """Deleting a conversation would delete its audit trail."""
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Conversation | None = None) -> list[str]:
        """The page is a chat, not a form: state changes through the buttons (and so the services)."""
        return [field.name for field in Conversation._meta.fields]

    # -- columns -------------------------------------------------------------------------------

    @admin.display(description="contact", ordering="contact__name")
    def contact_shown(self, conversation: Conversation) -> str:
        """Who it is, linking to the conversation's chat page."""
        return format_html('<a href="{}">{}</a>', conversation_url(conversation.pk), conversation.contact)

    @admin.display(description="channel", ordering="account__provider")
    def channel(self, conversation: Conversation) -> str:
        """WhatsApp (Meta or Twilio) or web chat."""
        return conversation.account.get_provider_display()

    @admin.display(description="status", ordering="status")
    def status_shown(self, conversation: Conversation) -> str:
        """Open or needs attention, as a badge."""
        return format_html(
            '<span class="gk-badge gk-status-{}">{}</span>',
            conversation.status,
            conversation.get_status_display(),
        )

    @admin.display(description="assistant", ordering="bot_paused")
    def assistant(self, conversation: Conversation) -> str:
        """Whether the assistant may answer, or the owner took over."""
        return "Paused: you took over" if conversation.bot_paused else "Active"

    @admin.display(description="drafts waiting", ordering="pending_count")
    def pending_shown(self, conversation: Conversation) -> str:
        """How many drafts wait for the owner here."""
        return (
            format_html('<span class="gk-count">{}</span>', conversation.pending_count)
            if conversation.pending_count
            else ""
        )

    # -- the chat page -------------------------------------------------------------------------

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        """Show the thread, the drafts to decide, the actions and the history; changes go through the buttons."""
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        conversation = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if conversation is not None:
            draft_admin = self.admin_site.get_model_admin(Draft)
            can_change = self.has_change_permission(request, conversation)
            context.update(
                title=f"Conversation with {conversation.contact}",
                subtitle=None,
                thread=selectors.conversation_thread(conversation),
                can_act=can_change,
                can_approve=draft_admin.has_approve_permission(request),
                can_edit_drafts=draft_admin.has_change_permission(request),
                reply_form=ReplyForm(),
                here=request.get_full_path(),
                needs_attention=conversation.status == ConversationStatus.NEEDS_ATTENTION,
                calls=list(conversation.calls.all()[:20]),  # phone calls: status, duration, summary
                **timeline(conversation),  # open promises and scheduled follow-ups (issue 15)
            )
        return super().change_view(request, object_id, form_url, context)

    def get_urls(self) -> list:
        """Take over, hand back and reply, ahead of the default routes."""
        route = [
            ("take-over", self.take_over_view, "take_over"),
            ("release", self.release_view, "release"),
            ("reply", self.reply_view, "reply"),
            ("confirm-identity", self.confirm_identity_view, "confirm_identity"),
        ]
        return [
            *self.followup_urls(),
            *(
                path(
                    f"<path:object_id>/{segment}/",
                    self.admin_site.admin_view(view),
                    name=f"conversations_conversation_{name}",
                )
                for segment, view, name in route
            ),
            *super().get_urls(),
        ]

    def _acting_on(self, request: HttpRequest, object_id: str) -> Conversation:
        """The conversation a button acts on, if the owner may change it."""
        if request.method != "POST":
            raise PermissionDenied
        conversation = self.get_object(request, unquote(object_id))
        if conversation is None:
            raise Http404("No such conversation.")
        if not self.has_change_permission(request, conversation):
            raise PermissionDenied
        return conversation

    def take_over_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Pause the assistant here; its pending drafts are withdrawn."""
        conversation = self._acting_on(request, object_id)
        try:
            services.conversation_take_over(conversation_id=conversation.pk, by=request.user)
        except services.ActionRefused as refusal:
            self.message_user(request, str(refusal), messages.WARNING)
        else:
            self.message_user(
                request, "You took this conversation over: the assistant stays quiet.", messages.SUCCESS
            )
        return _back(request, conversation_url(conversation.pk))

    def release_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Hand the conversation back to the assistant, or mark it handled."""
        conversation = self._acting_on(request, object_id)
        try:
            services.conversation_release(conversation_id=conversation.pk, by=request.user)
        except services.ActionRefused as refusal:
            self.message_user(request, str(refusal), messages.WARNING)
        else:
            self.message_user(
                request,
                "Handed back: the assistant answers new messages again."
                if conversation.bot_paused
                else "Marked as handled.",
                messages.SUCCESS,
            )
        return _back(request, conversation_url(conversation.pk))

    def reply_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Send the owner's own words through the conversation's channel (in a job, after commit)."""
        conversation = self._acting_on(request, object_id)
        form = ReplyForm(request.POST)
        if not form.is_valid():
            self.message_user(request, "Write something to send.", messages.WARNING)
            return _back(request, conversation_url(conversation.pk))
        try:
            services.conversation_reply(
                conversation_id=conversation.pk, by=request.user, text=form.cleaned_data["text"]
            )
        except services.ActionRefused as refusal:
            self.message_user(request, str(refusal), messages.WARNING)
        else:
            self.message_user(
                request, f"Your reply is queued and {_goes_out(conversation)}", messages.SUCCESS
            )
        return _back(request, conversation_url(conversation.pk, "reply"))

    def confirm_identity_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The owner vouches that a contact whose WhatsApp identity changed is still them."""
        conversation = self._acting_on(request, object_id)
        try:
            identity.confirm_identity(conversation_id=conversation.pk, by=request.user)
        except identity.NothingToConfirm as refusal:
            self.message_user(request, str(refusal), messages.WARNING)
        else:
            self.message_user(
                request, "Confirmed: the assistant may act for this contact again.", messages.SUCCESS
            )
        return _back(request, conversation_url(conversation.pk))

    @admin.action(
        permissions=["change"],
        description="Confirm the contact's identity (after WhatsApp reported a change)",
    )
    def confirm_identity_selected(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        """Clear the unverified mark of each selected conversation's contact, with an audit entry."""
        confirmed = 0
        for pk in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                identity.confirm_identity(conversation_id=pk, by=request.user)
            except identity.NothingToConfirm as refusal:
                self.message_user(request, f"#{pk}: {refusal}", messages.WARNING)
            else:
                confirmed += 1
        if confirmed:
            self.message_user(request, f"{confirmed} contact identity(ies) confirmed.", messages.SUCCESS)

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

    @admin.action(
        permissions=["change"], description="Hand selected conversations back (or mark them handled)"
    )
    def release_selected(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        """Hand conversations back through `conversation_release`."""
        _report(
            self,
            request,
            queryset,
            lambda pk: services.conversation_release(conversation_id=pk, by=request.user),
            "conversation(s) released",
        )
