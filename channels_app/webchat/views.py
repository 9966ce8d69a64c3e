"""The chat page (`GET /chat/<slug>/`) and the HTTP twin of the socket (`POST`/`GET /webchat`).

The HTTP twin stores messages through the same `post_visitor_message` as the socket and rings
the same doorbell, so an open page shows what was posted over HTTP and vice versa. Browsers on
an account's allowed origins may call it cross-origin (CORS); cookies are never used.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from channels_app.webchat import chat, groups, origins
from channels_app.webchat.addresses import client_address
from channels_app.webchat.frames import ChatError, decode_frame, visitor_text
from channels_app.webchat.visitors import TOKEN_HEADER, Visitor, issue_token, new_visitor, read_token
from channels_app.webhooks import WebhookRefused, read_limited_body

logger = logging.getLogger(__name__)

#: Largest POST /webchat body.
MAX_BODY_BYTES = 16 * 1024


@require_GET
@xframe_options_exempt
def chat_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The chat page; frameable only by this server and the account's allowed origins."""
    account = chat.find_account(slug)
    if account is None:
        response = render(request, "webchat/unknown.html", {"slug": slug}, status=404)
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'self'; frame-ancestors 'self'"
        return response
    context = {
        "account": account,
        "embed": request.GET.get("embed") == "1",
        "max_length": settings.WEBCHAT_MAX_TEXT_LENGTH,
    }
    response = render(request, "webchat/chat.html", context)
    host = request.get_host()
    response["Content-Security-Policy"] = "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' ws://{host} wss://{host}",
            "form-action 'self'",
            "base-uri 'none'",
            f"frame-ancestors {origins.frame_ancestors(account)}",
        ]
    )
    response["Referrer-Policy"] = "same-origin"
    response["Cache-Control"] = "no-store"
    return response


def _error(refused: ChatError) -> JsonResponse:
    body: dict = {"error": refused.message, "code": refused.code}
    if refused.retry_after is not None:
        body["retry_after"] = refused.retry_after
    response = JsonResponse(body, status=refused.status)
    if refused.retry_after is not None:
        response["Retry-After"] = str(refused.retry_after)
    return response


def _cors(request: HttpRequest, response: HttpResponse, account: chat.ChatAccount | None) -> HttpResponse:
    """Let an allowed site's page read the answer; everyone else gets no CORS headers."""
    origin = request.headers.get("Origin", "")
    response["Vary"] = "Origin"
    allowed = origins.account_allows(account, origin) if account else origins.any_account_allows(origin)
    if origin and allowed:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = f"Content-Type, {TOKEN_HEADER}"
        response["Access-Control-Max-Age"] = "600"
    return response


def _visitor(account: chat.ChatAccount, token: object, *, required: bool) -> Visitor:
    if token in (None, "") and not required:
        return new_visitor(account.slug)
    visitor = read_token(token, slug=account.slug) if isinstance(token, str) else None
    if visitor is None:
        if token in (None, ""):
            raise ChatError("missing_visitor_token", "visitor_token is required.", status=400)
        raise ChatError("invalid_visitor_token", "That visitor token is not valid for this chat.", status=403)
    return visitor


def _account(request: HttpRequest, slug: object) -> chat.ChatAccount:
    """The chat named in the request; a browser on a site the owner did not allow is refused."""
    account = chat.find_account(slug) if isinstance(slug, str) else None
    if account is None:
        raise ChatError("unknown_chat", "There is no chat with that name.", status=404)
    origin = request.headers.get("Origin", "")
    if origin and not (origins.from_this_site(origin) or origins.account_allows(account, origin)):
        raise ChatError("origin_not_allowed", "This site may not use this chat.", status=403)
    return account


@csrf_exempt
@transaction.non_atomic_requests
@require_http_methods(["GET", "POST", "OPTIONS"])
def webchat_api(request: HttpRequest) -> HttpResponse:
    """`POST /webchat` stores a visitor's message (202); `GET /webchat` lists the visitor's messages.

    The visitor's token comes in the `X-Visitor-Token` header (or, from older clients, in the body's
    `visitor_token` or `?visitor_token=`).
    """
    if request.method == "OPTIONS":
        return _cors(request, HttpResponse(status=204), None)
    account = None
    try:
        if request.method == "POST":
            data = _post_body(request)
            account = _account(request, data.get("account"))
            response = _post(request, account, data)
        else:
            account = _account(request, request.GET.get("account"))
            response = _list(request, account)
    except ChatError as refused:
        response = _error(refused)
    except DatabaseError:
        logger.exception("web-chat request failed (database unavailable)")
        response = _error(ChatError("unavailable", "Temporarily unavailable; try again.", status=503))
    return _cors(request, response, account)


def _post_body(request: HttpRequest) -> dict:
    try:
        body = read_limited_body(request, MAX_BODY_BYTES)
    except WebhookRefused as refused:
        raise ChatError("bad_request", refused.reason, status=refused.status) from None
    try:
        return decode_frame(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise ChatError("malformed_json", "The body must be UTF-8 JSON.") from None


def _post(request: HttpRequest, account: chat.ChatAccount, data: dict) -> JsonResponse:
    visitor = _visitor(
        account, request.headers.get(TOKEN_HEADER) or data.get("visitor_token"), required=False
    )
    incoming = visitor_text(data)
    address = client_address(request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR"))
    posted = chat.post_visitor_message(account, visitor, incoming, client_address=address)
    if posted.created:
        groups.ring(groups.group_name(account.slug, visitor.id), groups.REFRESH)
    return JsonResponse(
        {
            "visitor_token": issue_token(visitor),
            "conversation": posted.conversation_id,
            "message": posted.message,
        },
        status=202,
    )


def _list(request: HttpRequest, account: chat.ChatAccount) -> JsonResponse:
    # The header keeps the token out of access logs; `?visitor_token=` is the older form.
    visitor = _visitor(
        account, request.headers.get(TOKEN_HEADER) or request.GET.get("visitor_token"), required=True
    )
    after = request.GET.get("after", "")
    if after and not after.isdigit():
        raise ChatError("invalid_after", "after must be a message id.")
    if after:
        messages = chat.messages_after(account.id, visitor, int(after))
    else:
        messages = chat.latest_messages(account.id, visitor)
    return JsonResponse({"messages": messages, "held": chat.reply_is_held(account.id, visitor)})
