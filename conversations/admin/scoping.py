"""Owner scoping for every admin page: a staff owner sees and changes only their own rows; a superuser all."""

from __future__ import annotations

from typing import Any, NoReturn

from django import forms
from django.contrib import admin
from django.db import models
from django.http import Http404, HttpRequest

from conversations.models import ChannelAccount, Contact, Conversation, Draft, Fact, Message, Rule, User
from conversations.selectors import owned

#: How each model that a form may point at reaches its owner.
OWNER_PATHS: dict[type[models.Model], str] = {
    User: "pk",
    ChannelAccount: "owner",
    Contact: "owner",
    Conversation: "owner",
    Rule: "owner",
    Fact: "owner",
    Draft: "conversation__owner",
    Message: "conversation__owner",
}


class OwnerScopedAdmin(admin.ModelAdmin):
    """Filter lists, pages, actions and foreign-key choices to the requesting owner's rows."""

    #: The lookup from this model to its owner (e.g. "owner", "conversation__owner").
    owner_path = "owner"

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        """Only the owner's rows: another owner's id is "not found" on every page and in every action."""
        return owned(super().get_queryset(request), request.user, self.owner_path)

    def _get_obj_does_not_exist_redirect(self, request: HttpRequest, opts: Any, object_id: str) -> NoReturn:
        """Another owner's id (or no such row) on a change, history or delete page is a plain 404,
        not Django's redirect to the index with "perhaps it was deleted"."""
        raise Http404(f"No {opts.verbose_name} with this id.")

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        """Choices (and raw ids typed by hand) are limited to the owner's own objects."""
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        path = OWNER_PATHS.get(db_field.related_model)
        if field is not None and path is not None and hasattr(field, "queryset"):
            field.queryset = owned(field.queryset, request.user, path)
        return field

    def get_fields(self, request: HttpRequest, obj: models.Model | None = None) -> list[str]:
        """A staff owner never picks the owner: it is always themselves."""
        fields = list(super().get_fields(request, obj))
        if request.user.is_superuser or self.owner_path != "owner":
            return fields
        return [name for name in fields if name != "owner"]

    def get_form(
        self, request: HttpRequest, obj: models.Model | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        """For a staff owner, new rows belong to them before validation, so per-owner uniqueness is checked."""
        form = super().get_form(request, obj, change, **kwargs)
        if request.user.is_superuser or self.owner_path != "owner":
            return form
        return _owned_form(form, request.user)


def _owned_form(form: type[forms.ModelForm], owner: User) -> type[forms.ModelForm]:
    """The admin's form with the owner set on a new instance and included in model validation."""

    class OwnedForm(form):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if self.instance.pk is None:
                self.instance.owner = owner

        def _get_validation_exclusions(self) -> set[str]:
            return super()._get_validation_exclusions() - {"owner"}

    OwnedForm.__name__ = form.__name__
    return OwnedForm


class RecordAdmin(OwnerScopedAdmin):
    """Rows written by the pipeline or the services: shown, never added, edited or deleted by hand."""

    def has_add_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        """Rows here are written by Gatekeeper, not by hand."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        """A record of what happened; shown, not edited."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        """Deleting a record would rewrite history."""
        return False
