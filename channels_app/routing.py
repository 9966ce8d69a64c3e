"""WebSocket routes; `gatekeeper_site.asgi` mounts them (the paths are a contract, see docs/architecture.md)."""

from channels.auth import AuthMiddlewareStack
from django.urls import path

from channels_app.webchat.consumer import ChatConsumer
from conversations.admin.socket import DashboardConsumer

websocket_urlpatterns = [
    path("ws/chat/<str:slug>/", ChatConsumer.as_asgi(), name="webchat-socket"),
    # The admin's live dashboard: the admin session decides who listens to what.
    path("ws/dashboard/", AuthMiddlewareStack(DashboardConsumer.as_asgi()), name="dashboard-socket"),
]
