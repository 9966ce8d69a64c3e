"""The tools every owner shares, for operators only; and the admin's "view on site" that never fails.

- The RQ dashboard (`/django-rq/`, and its copy inside the admin) clears, deletes and requeues
  jobs on the queue every owner shares: superusers only. A staff owner gets 403; a request without
  a session still meets the dashboard's own check (a login page, or its API token for the JSON
  and metrics endpoints).
- `/admin/r/<content_type_id>/<object_id>/`: Django's shortcut looks an object up in any model that
  has a content type, tables or not (django_rq's `Dashboard` has none: a 500), and for anyone. Here
  the object is found through its model's admin, so only where the requester could open it, and only
  a model with a page of its own (`get_absolute_url`) redirects: anything else is a 404.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern
from django_rq import urls as rq_urls
from django_rq.admin import QueueAdmin
from django_rq.models import Dashboard


def superuser_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Refuse (403) a signed-in user who is not a superuser; anyone else meets the view's own check."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and not request.user.is_superuser:
            raise PermissionDenied("Only an operator (a superuser) may use this.")
        return view(request, *args, **kwargs)

    return guarded


def superuser_only_patterns(patterns: Iterable[Any]) -> list[URLPattern]:
    """The same routes, each view behind `superuser_only`."""
    guarded = []
    for pattern in patterns:
        if not isinstance(pattern, URLPattern):
            raise TypeError(f"cannot guard {pattern!r}: only plain routes are expected here")
        guarded.append(
            URLPattern(pattern.pattern, superuser_only(pattern.callback), pattern.default_args, pattern.name)
        )
    return guarded


def rq_dashboard_urls() -> tuple[list[URLPattern], str]:
    """django_rq's routes for `include()` under its own namespace, for superusers only."""
    return superuser_only_patterns(rq_urls.urlpatterns), rq_urls.app_name


class OperatorQueueAdmin(QueueAdmin):
    """django_rq's dashboard inside the admin, shown to and usable by superusers only."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def get_urls(self) -> list[URLPattern]:
        return superuser_only_patterns(super().get_urls())


if admin.site.is_registered(Dashboard):
    admin.site.unregister(Dashboard)
    admin.site.register(Dashboard, OperatorQueueAdmin)


def view_on_site(request: HttpRequest, content_type_id: int, object_id: str) -> HttpResponse:
    """Redirect to the page of an object the requester may open in the admin; 404 for anything else."""
    try:
        model = ContentType.objects.get_for_id(content_type_id).model_class()
    except ContentType.DoesNotExist:
        model = None
    if model is None or not admin.site.is_registered(model) or not hasattr(model, "get_absolute_url"):
        raise Http404("Nothing to show on the site here.")
    model_admin = admin.site.get_model_admin(model)
    obj = model_admin.get_object(request, unquote(object_id))
    if (
        obj is None
        or not model_admin.view_on_site
        or not model_admin.has_view_or_change_permission(request, obj)
    ):
        raise Http404("Nothing to show on the site here.")
    return HttpResponseRedirect(obj.get_absolute_url())
