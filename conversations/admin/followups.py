"""The conversation page's timeline of open promises and scheduled follow-ups, and its buttons.

"Follow up in N days unless they reply" schedules a follow-up with the owner's text; each
scheduled follow-up can be cancelled and each open promise dismissed. The buttons call
`conversations.followups` and `conversations.promises`; nothing here changes a row itself.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone

from conversations import followups, promises
from conversations.models import Conversation, FollowUp, FollowUpStatus, Promise, PromiseStatus
from conversations.services import ActionRefused
from conversations.templatetags.review import conversation_url

#: Follow-ups and promises already decided that the timeline still shows, newest first.
RECENT = 5


class FollowUpForm(forms.Form):
    """Follow up in N days (or hours) unless they reply, with the owner's own words."""

    amount = forms.IntegerField(min_value=1, max_value=365, initial=3, label="Follow up in")
    unit = forms.ChoiceField(choices=[("days", "days"), ("hours", "hours")], initial="days", label="")
    text = forms.CharField(
        required=False,
        strip=True,
        max_length=followups.TEXT_LIMIT,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Any news on this? (your words)"}),
        label="Text",
        help_text="Sent as your own reply. Empty: the assistant's standard follow-up, checked by your rules.",
    )
    unless_reply = forms.BooleanField(required=False, initial=True, label="unless they reply first")

    def due_at(self):
        """When the follow-up is due, from now."""
        data = self.cleaned_data
        return timezone.now() + timedelta(**{data["unit"]: data["amount"]})


def timeline(conversation: Conversation) -> dict:
    """What the conversation page shows: open promises and scheduled follow-ups, then recent others."""
    scheduled = list(conversation.followups.filter(status=FollowUpStatus.SCHEDULED).order_by("due_at", "id"))
    done = list(conversation.followups.exclude(status=FollowUpStatus.SCHEDULED).order_by("-id")[:RECENT])
    open_promises = list(conversation.promises.filter(status=PromiseStatus.OPEN).order_by("due_at", "id"))
    settled = list(conversation.promises.exclude(status=PromiseStatus.OPEN).order_by("-id")[:RECENT])
    return {
        "scheduled_followups": scheduled,
        "recent_followups": done,
        "open_promises": open_promises,
        "settled_promises": settled,
        "followup_form": FollowUpForm(),
    }


class FollowUpAdminMixin:
    """Routes and views of the follow-up buttons, for the conversation admin."""

    def followup_urls(self) -> list:
        """Schedule, cancel and dismiss, under the conversation's own admin URL."""
        route = [
            ("follow-up/", self.follow_up_view, "follow_up"),
            ("follow-up/<int:followup_id>/cancel/", self.cancel_followup_view, "cancel_followup"),
            ("promise/<int:promise_id>/dismiss/", self.dismiss_promise_view, "dismiss_promise"),
        ]
        return [
            path(
                f"<path:object_id>/{segment}",
                self.admin_site.admin_view(view),
                name=f"conversations_conversation_{name}",
            )
            for segment, view, name in route
        ]

    def follow_up_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Schedule "follow up in N days unless they reply" with the owner's text."""
        from conversations.admin.review import _back

        conversation = self._acting_on(request, object_id)
        form = FollowUpForm(request.POST)
        if not form.is_valid():
            errors = "; ".join(f"{name}: {' '.join(problems)}" for name, problems in form.errors.items())
            self.message_user(request, f"The follow-up was not scheduled: {errors}", messages.WARNING)
            return _back(request, conversation_url(conversation.pk, "followups"))
        try:
            followup = followups.schedule_by_owner(
                conversation=conversation,
                by=request.user,
                text=form.cleaned_data["text"],
                due_at=form.due_at(),
                unless_reply=form.cleaned_data["unless_reply"],
            )
        except ActionRefused as refusal:
            self.message_user(request, str(refusal), messages.WARNING)
        else:
            self.message_user(
                request,
                f"Follow-up scheduled for {timezone.localtime(followup.due_at):%b %d, %H:%M}"
                + (" unless they reply first." if followup.unless_reply else "."),
                messages.SUCCESS,
            )
        return _back(request, conversation_url(conversation.pk, "followups"))

    def cancel_followup_view(self, request: HttpRequest, object_id: str, followup_id: int) -> HttpResponse:
        """Cancel one of this conversation's scheduled follow-ups."""
        from conversations.admin.review import _back

        conversation = self._acting_on(request, object_id)
        if not FollowUp.objects.filter(pk=followup_id, conversation=conversation).exists():
            self.message_user(request, "No such follow-up in this conversation.", messages.WARNING)
        else:
            try:
                followups.cancel(followup_id=followup_id, by=request.user)
            except ActionRefused as refusal:
                self.message_user(request, str(refusal), messages.WARNING)
            else:
                self.message_user(request, "Follow-up cancelled.", messages.SUCCESS)
        return _back(request, conversation_url(conversation.pk, "followups"))

    def dismiss_promise_view(self, request: HttpRequest, object_id: str, promise_id: int) -> HttpResponse:
        """Dismiss one of this conversation's open promises: it is never chased."""
        from conversations.admin.review import _back

        conversation = self._acting_on(request, object_id)
        if not Promise.objects.filter(pk=promise_id, conversation=conversation).exists():
            self.message_user(request, "No such promise in this conversation.", messages.WARNING)
        else:
            try:
                promises.dismiss(promise_id=promise_id, by=request.user)
            except ActionRefused as refusal:
                self.message_user(request, str(refusal), messages.WARNING)
            else:
                self.message_user(request, "Promise dismissed: it will not be chased.", messages.SUCCESS)
        return _back(request, conversation_url(conversation.pk, "followups"))
