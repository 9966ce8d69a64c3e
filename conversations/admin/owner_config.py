"""Rules, facts and settings in plain words, saved through `conversations.configuration` (audited); the audit trail."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.text import Truncator

from ai.categories import DEFAULT_CATEGORIES
from conversations import configuration
from conversations.admin.scoping import OwnerScopedAdmin, RecordAdmin
from conversations.audit import MASK
from conversations.models import AuditEntry, Fact, OwnerSettings, Rule, RuleAction, time_zone_names
from conversations.origins import clean_origins, origin_lines
from conversations.phones import owner_number
from conversations.templatetags.review import conversation_url

#: Longest list of senders or keywords a rule may carry, and the longest entry (as in the API).
LIST_MAX_ITEMS = 200
#: The built-in category names, as examples of what a rule's category looks like.
CATEGORY_EXAMPLES = ", ".join(DEFAULT_CATEGORIES[:-1]) + " or " + DEFAULT_CATEGORIES[-1]
LIST_ITEM_MAX_LENGTH = 200

RULE_ACTION_HELP = (
    "What the assistant does with conversations of this category. "
    "Auto: it answers on its own when it is sure enough and no guard fires (with approval mode "
    "'when unsure'). Draft: it writes a reply and waits for your OK. Escalate: it writes nothing "
    "and tells you at once. Ignore: messages are kept, nobody answers and you are not told."
)
APPROVAL_MODE_HELP = (
    "Always ask me: nothing goes out until you approve it, whatever the rules say. "
    "When unsure (the default): only categories whose rule says Auto are answered on their own, "
    "and only when the assistant is at least as sure as your threshold and no guard fires; "
    "everything else waits for you. Never ask: replies go out unless a guard fires or the "
    "assistant is less sure than your threshold; rules set to Draft or Escalate still wait."
)


class LinesField(forms.CharField):
    """A list of short strings edited as one entry per line."""

    widget = forms.Textarea(attrs={"rows": 4})

    def prepare_value(self, value: Any) -> str:
        """Show a stored list one entry per line."""
        if isinstance(value, list):
            return "\n".join(str(item) for item in value)
        return "" if value is None else str(value)

    def to_python(self, value: Any) -> list[str]:
        """Non-empty lines, trimmed, without repeats, in the owner's order."""
        lines = [str(item) for item in value] if isinstance(value, list) else str(value or "").splitlines()
        return list(dict.fromkeys(line.strip() for line in lines if line.strip()))

    def validate(self, value: list[str]) -> None:
        """As many entries as the API allows, each as long."""
        if len(value) > LIST_MAX_ITEMS:
            raise forms.ValidationError(f"At most {LIST_MAX_ITEMS} entries.")
        if any(len(item) > LIST_ITEM_MAX_LENGTH for item in value):
            raise forms.ValidationError(f"Each entry may have at most {LIST_ITEM_MAX_LENGTH} characters.")

    def has_changed(self, initial: Any, data: Any) -> bool:
        """Compare as lists, so re-saving unchanged lines is no change."""
        return self.to_python(initial) != self.to_python(data)


class OriginsField(LinesField):
    """A chat account's allowed sites, one origin per line, stored in the form the widget's matcher compares."""

    def to_python(self, value: Any) -> list[str]:
        """The owner's non-empty lines (a pasted JSON list too), trimmed."""
        return [line.strip() for line in origin_lines(value) if line.strip()]

    def validate(self, value: list[str]) -> None:
        """Checked line by line in `clean`, so each bad line gets its own reason."""

    def clean(self, value: Any) -> list[str]:
        """Each line an origin (`https://shop.example`, `http://localhost:8000`), normalized, without repeats."""
        try:
            return clean_origins(self.to_python(value))
        except ValueError as error:
            raise forms.ValidationError(list(error.args[0])) from None

    def has_changed(self, initial: Any, data: Any) -> bool:
        """Compare as lines, so re-saving the same sites is no change."""
        return self.to_python(initial) != self.to_python(data)


class ChannelAccountForm(forms.ModelForm):
    """A channel account, with the web chat's allowed sites as lines instead of raw JSON.

    No Meta: the admin builds the form for ChannelAccount with every field and this one replaced.
    """

    allowed_origins = OriginsField(
        required=False,
        label="Allowed sites",
        help_text="Web chat only. One site per line that may embed your chat widget, written as the browser "
        "names it: https://shop.example or http://localhost:8000 (scheme, host and port only; no path). "
        "Your own Gatekeeper address is always allowed.",
    )


class RuleForm(forms.ModelForm):
    """A rule with help in plain words and the match lists as lines."""

    match_senders = LinesField(
        required=False,
        label="Senders",
        help_text="One per line: phone numbers (with country code, e.g. +44 7700 900123) or provider ids of "
        "companies that belong to this category. A match decides the category before the assistant is "
        "asked, and only such a match (or a keyword, or a contact you pin) lets a reply go out by itself. "
        "A company name here never matches by itself (anyone can choose a display name): a sender who "
        "uses it from another number is marked unverified instead.",
    )
    match_keywords = LinesField(
        required=False,
        label="Keywords",
        help_text="One per line: words that put a conversation in this category (whole words, any case).",
    )

    class Meta:
        model = Rule
        fields = ["category", "action", "instructions", "match_senders", "match_keywords"]
        help_texts = {
            "category": f"A short name such as {CATEGORY_EXAMPLES}. One rule per category.",
            "action": RULE_ACTION_HELP,
            "instructions": "How to answer this kind of company, in your words, e.g. "
            "“Never accept an upgrade; ask them to write to me by email.”",
        }


class FactForm(forms.ModelForm):
    """A fact with help in plain words."""

    share_with = LinesField(
        required=False,
        label="Share with",
        help_text="Shareable facts only. One category per line (e.g. bank) to share it with those kinds of "
        "company only; leave empty to share it with every category. The assistant never sees the value: "
        "it writes a placeholder, filled in after every check has passed, and each disclosure is in the "
        "audit trail.",
    )

    class Meta:
        model = Fact
        fields = ["key", "value", "private", "share_with"]
        help_texts = {
            "key": "A name for it, e.g. “customer number” or “address”.",
            "value": "The fact itself.",
            "private": "Private: never given to the assistant, and any reply that contains it waits for "
            "you. Untick to let the assistant use it in replies (e.g. your customer number).",
        }

    def clean(self) -> dict:
        """A private fact is shared with nobody: naming categories for one is a mistake worth saying."""
        cleaned = super().clean()
        if cleaned.get("private") and cleaned.get("share_with"):
            self.add_error("share_with", "A private fact is never shared; untick Private to share it.")
        return cleaned


def _digest_hours() -> list[tuple[str, str]]:
    return [("", "Off: no daily digest"), *((str(hour), f"{hour:02d}:00") for hour in range(24))]


def _time_zones() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(time_zone_names())]


class OwnerSettingsForm(forms.ModelForm):
    """How much the owner delegates, explained in plain words."""

    digest_hour = forms.TypedChoiceField(
        choices=_digest_hours,
        coerce=int,
        empty_value=None,
        required=False,
        label="Daily digest at",
        help_text="Once a day at this hour (in your time zone) you get what was answered on your behalf, "
        "what waits for you and what was escalated, by email and on your WhatsApp number if you gave one. "
        "Nothing is sent on a day when nothing happened.",
    )
    time_zone = forms.ChoiceField(
        choices=_time_zones,
        required=False,  # left out of a post: unchanged (the model's validator refuses an empty one)
        help_text="Where you are: the daily digest and follow-ups use your local time.",
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
        ]
        help_texts = {
            "approval_mode": APPROVAL_MODE_HELP,
            "confidence_threshold": "From 0 to 1 (0.75 means 75% sure). Replies the assistant is less sure "
            "of wait for you, and you are told about them.",
            "notify_whatsapp": "Optional: your own WhatsApp number with country code (e.g. +44 7700 900123). "
            "When something needs you, your gatekeeper's number writes to it with a link, and held drafts "
            "with their number: answer ok 12, edit 12 <text>, no 12, take 12 or status from it. WhatsApp "
            "delivers this only within 24 hours of your last message to your gatekeeper's number.",
        }

    def clean_time_zone(self) -> str:
        """A zone the server knows; left out of the post, the current one (empty is no zone)."""
        if self.add_prefix("time_zone") not in self.data:
            return self.instance.time_zone
        value = self.cleaned_data["time_zone"]
        if not value:
            raise forms.ValidationError("Choose your time zone, e.g. Europe/Lisbon.")
        return value

    def clean_notify_whatsapp(self) -> str:
        """The owner's own number, in E.164, or the reason it cannot be reached."""
        return owner_number(self.cleaned_data["notify_whatsapp"])

    def clean_forward_calls_to(self) -> str:
        """The number calls are put through to, in E.164, or the reason it cannot be dialled."""
        return owner_number(self.cleaned_data["forward_calls_to"])

    def clean_confidence_threshold(self) -> float:
        """A threshold outside 0..1 would hold everything or nothing."""
        value = self.cleaned_data["confidence_threshold"]
        if not 0 <= value <= 1:
            raise forms.ValidationError("Must be a number from 0 to 1.")
        return value


class _ConfiguredAdmin(OwnerScopedAdmin):
    """Saves and deletes through the audited configuration services; shows the owner only to superusers."""

    def get_list_display(self, request: HttpRequest) -> list[str]:
        """The owner column is noise for an owner looking at their own rows."""
        columns = list(super().get_list_display(request))
        return columns if request.user.is_superuser else [c for c in columns if c != "owner"]

    def get_list_filter(self, request: HttpRequest) -> list:
        """Only a superuser filters by owner."""
        filters = list(super().get_list_filter(request))
        return [*filters, "owner"] if request.user.is_superuser else filters

    def save_object(self, obj: Any, request: HttpRequest) -> None:
        raise NotImplementedError("subclasses of _ConfiguredAdmin must provide save_object()")

    def delete_object(self, obj: Any, request: HttpRequest) -> None:
        raise NotImplementedError("subclasses of _ConfiguredAdmin must provide delete_object()")

    def save_model(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> None:
        """Save through the service, which records the change in the audit trail."""
        self.save_object(obj, request)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        """Delete through the service, which records it in the audit trail."""
        self.delete_object(obj, request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Bulk delete one by one, so each deletion is on the record."""
        for obj in queryset:
            self.delete_object(obj, request)


@admin.register(Rule)
class RuleAdmin(_ConfiguredAdmin):
    """What happens to each category of conversation."""

    form = RuleForm
    list_display = ["category", "action_shown", "short_instructions", "matches", "owner"]
    list_filter = ["action"]
    list_select_related = ["owner"]
    search_fields = ["category", "instructions"]
    raw_id_fields = ["owner"]

    def get_fields(self, request: HttpRequest, obj: Rule | None = None) -> list[str]:
        """The rule's fields, and its owner for a superuser."""
        fields = ["category", "action", "instructions", "match_senders", "match_keywords"]
        return ["owner", *fields] if request.user.is_superuser else fields

    @admin.display(description="action", ordering="action")
    def action_shown(self, rule: Rule) -> str:
        """The action in plain words."""
        return RuleAction(rule.action).label if rule.action in RuleAction.values else rule.action

    @admin.display(description="instructions")
    def short_instructions(self, rule: Rule) -> str:
        """The start of the instructions, so the list stays one line a row."""
        return Truncator(rule.instructions).chars(80)

    @admin.display(description="matches")
    def matches(self, rule: Rule) -> str:
        """How many senders and keywords decide this category."""
        return f"{len(rule.match_senders or [])} sender(s), {len(rule.match_keywords or [])} keyword(s)"

    def save_object(self, obj: Rule, request: HttpRequest) -> None:
        """Save the rule with an audit entry."""
        configuration.rule_save(rule=obj, by=request.user)

    def delete_object(self, obj: Rule, request: HttpRequest) -> None:
        """Delete the rule with an audit entry."""
        configuration.rule_delete(rule=obj, by=request.user)


@admin.register(Fact)
class FactAdmin(_ConfiguredAdmin):
    """What the assistant may know; private values stay masked in the list."""

    form = FactForm
    list_display = ["key", "shown_value", "private", "shown_share_with", "owner"]
    list_filter = ["private"]
    list_select_related = ["owner"]
    search_fields = ["key"]
    search_help_text = "Search by name (values are not searchable, so private ones stay private)."
    raw_id_fields = ["owner"]

    def get_fields(self, request: HttpRequest, obj: Fact | None = None) -> list[str]:
        """The fact's fields, and its owner for a superuser."""
        fields = ["key", "value", "private", "share_with"]
        return ["owner", *fields] if request.user.is_superuser else fields

    @admin.display(description="value")
    def shown_value(self, fact: Fact) -> str:
        """Private values never appear in the list, even to the owner."""
        return MASK if fact.private else Truncator(fact.value).chars(80)

    @admin.display(description="shared with")
    def shown_share_with(self, fact: Fact) -> str:
        """Who may be told the fact: nobody, every category, or the listed ones."""
        if fact.private:
            return "nobody"
        return ", ".join(fact.share_with) if fact.share_with else "every category"

    def save_object(self, obj: Fact, request: HttpRequest) -> None:
        """Save the fact with an audit entry (a private value is masked there)."""
        configuration.fact_save(fact=obj, by=request.user)

    def delete_object(self, obj: Fact, request: HttpRequest) -> None:
        """Delete the fact with an audit entry."""
        configuration.fact_delete(fact=obj, by=request.user)


@admin.register(OwnerSettings)
class OwnerSettingsAdmin(_ConfiguredAdmin):
    """How much each owner delegates, and where they are told when something needs them."""

    form = OwnerSettingsForm
    list_display = [
        "__str__",
        "approval_mode",
        "confidence_threshold",
        "notify_email",
        "notify_whatsapp",
        "digest_hour",
        "time_zone",
        "owner",
    ]
    list_filter = ["approval_mode"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner"]

    def get_fields(self, request: HttpRequest, obj: OwnerSettings | None = None) -> list[str]:
        """The settings, and their owner for a superuser."""
        fields = list(OwnerSettingsForm.Meta.fields)
        return ["owner", *fields] if request.user.is_superuser else fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        """One set of settings per owner: a staff owner adds theirs once."""
        if not super().has_add_permission(request):
            return False
        return request.user.is_superuser or not OwnerSettings.objects.filter(owner=request.user).exists()

    def has_delete_permission(self, request: HttpRequest, obj: OwnerSettings | None = None) -> bool:
        """Settings are changed, not deleted."""
        return False

    def save_object(self, obj: OwnerSettings, request: HttpRequest) -> None:
        """Save the settings with an audit entry."""
        configuration.owner_settings_save(owner_settings=obj, by=request.user)

    def delete_object(self, obj: OwnerSettings, request: HttpRequest) -> None:
        """Never called: settings cannot be deleted."""
        raise PermissionDenied("Settings are changed, not deleted.")


def _pretty(values: dict) -> str:
    return format_html(
        '<pre class="gk-json">{}</pre>', json.dumps(values, indent=2, ensure_ascii=False) if values else "—"
    )


@admin.register(AuditEntry)
class AuditEntryAdmin(RecordAdmin):
    """Who did what and when: read-only, never added, changed or deleted from the admin."""

    list_display = ["created_at", "actor", "action", "summary", "conversation_shown", "owner"]
    list_filter = ["action", ("actor", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["actor", "owner", "conversation__contact", "conversation__account"]
    search_fields = ["summary"]
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "actor",
        "owner",
        "action",
        "summary",
        "conversation_shown",
        "draft",
        "before_shown",
        "after_shown",
    ]
    readonly_fields = fields

    class Media:
        css = {"all": ["conversations/review.css"]}

    def get_list_display(self, request: HttpRequest) -> list[str]:
        """The owner column only for a superuser."""
        columns = list(super().get_list_display(request))
        return columns if request.user.is_superuser else [c for c in columns if c != "owner"]

    @admin.display(description="conversation")
    def conversation_shown(self, entry: AuditEntry) -> str:
        """A link to the conversation the entry is about, if any."""
        if entry.conversation_id is None:
            return "—"
        return format_html('<a href="{}">{}</a>', conversation_url(entry.conversation_id), entry.conversation)

    @admin.display(description="before")
    def before_shown(self, entry: AuditEntry) -> str:
        """The values before the change."""
        return _pretty(entry.before)

    @admin.display(description="after")
    def after_shown(self, entry: AuditEntry) -> str:
        """The values after the change."""
        return _pretty(entry.after)
