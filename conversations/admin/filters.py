"""Review-queue filters: decision state (pending by default), confidence, staleness, and owner-scoped categories."""

from __future__ import annotations

from collections.abc import Iterator

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest

from ai import categories
from conversations.models import ConversationStatus, DraftStatus

#: The pseudo-value of the status filter that shows every draft.
ALL = "all"


def titled(filter_class: type[admin.ListFilter], title: str) -> type[admin.ListFilter]:
    """One of Django's field filters under a plainer title (e.g. "channel" for account__provider)."""

    class Titled(filter_class):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            self.title = title

    Titled.__name__ = f"{filter_class.__name__}_{title.replace(' ', '_')}"
    return Titled


class DraftStatusFilter(admin.SimpleListFilter):
    """The draft list opens on what waits for the owner; "All" shows decided drafts too."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        """Each state, waiting first, then everything."""
        return [*DraftStatus.choices, (ALL, "All")]

    def choices(self, changelist: ChangeList) -> Iterator[dict[str, object]]:
        """Like Django's, but with "waiting for approval" selected when nothing is chosen."""
        current = self.value() or DraftStatus.PENDING
        for value, title in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        """Pending unless another state (or all) was asked for."""
        value = self.value() or DraftStatus.PENDING
        if value == ALL:
            return queryset
        if value not in DraftStatus.values:
            return queryset.none()
        return queryset.filter(status=value)


class ConfidenceFilter(admin.SimpleListFilter):
    """How sure the assistant was, in plain bands, and against the owner's own threshold."""

    title = "confidence"
    parameter_name = "confidence"
    BANDS = {
        "below_threshold": ("Below your threshold", Q(confidence__lt=F("owner_threshold"))),
        "low": ("Low (under 50%)", Q(confidence__lt=0.5)),
        "medium": ("Medium (50 to 80%)", Q(confidence__gte=0.5, confidence__lt=0.8)),
        "high": ("High (80% and up)", Q(confidence__gte=0.8)),
    }

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        """The bands, in the order a reviewer scans them."""
        return [(key, label) for key, (label, _) in self.BANDS.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        """Rows in the chosen band (needs the `owner_threshold` annotation)."""
        band = self.BANDS.get(self.value() or "")
        return queryset.filter(band[1]) if band else queryset


class StaleFilter(admin.SimpleListFilter):
    """Pending drafts whose conversation moved on since they were written."""

    title = "conversation moved on"
    parameter_name = "stale"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        """Stale or current."""
        return [("yes", "Stale: read before approving"), ("no", "Current")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        """Filter on the `is_stale` annotation."""
        if self.value() == "yes":
            return queryset.filter(is_stale=True)
        if self.value() == "no":
            return queryset.filter(is_stale=False)
        return queryset


class OwnedCategoryFilter(admin.SimpleListFilter):
    """Categories found among the rows this owner may see (never another owner's category names).

    Built-in categories are shown by their label (ai/categories.py), an owner's own by its name.
    """

    title = "category"
    parameter_name = "category"
    field = "category"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        """The distinct categories of the owner's rows."""
        values = (
            model_admin.get_queryset(request)
            .exclude(**{self.field: ""})
            .order_by(self.field)
            .values_list(self.field, flat=True)
            .distinct()
        )
        return [(value, categories.label(value)) for value in values]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        """Rows of the chosen category."""
        return queryset.filter(**{self.field: self.value()}) if self.value() else queryset


class NeedsYouFilter(admin.SimpleListFilter):
    """Conversations by what they need from the owner."""

    title = "needs you"
    parameter_name = "needs"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        """Drafts to decide, or anything at all."""
        return [("drafts", "Has drafts waiting"), ("anything", "Needs attention or has drafts")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        """Filter on the `pending_count` annotation and the status."""
        if self.value() == "drafts":
            return queryset.filter(pending_count__gt=0)
        if self.value() == "anything":
            return queryset.filter(Q(pending_count__gt=0) | Q(status=ConversationStatus.NEEDS_ATTENTION))
        return queryset
