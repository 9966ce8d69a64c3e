"""The page at `/`: where to go from here. Public, so it shows no owner's data, only links."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from channels_app.webchat.chat import find_account


@require_GET
def welcome(request: HttpRequest) -> HttpResponse:
    """Links to the review dashboard, the chat page (when it is set up) and the API docs."""
    chat_url = (
        reverse("webchat-page", args=[settings.WEBCHAT_SLUG]) if find_account(settings.WEBCHAT_SLUG) else ""
    )
    context = {
        "dashboard_url": reverse("admin:index"),
        "chat_url": chat_url,
        "docs_url": reverse("api-docs"),
    }
    return render(request, "welcome.html", context)
