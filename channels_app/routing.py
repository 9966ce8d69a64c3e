"""WebSocket routes; `gatekeeper_site.asgi` mounts them (the paths are a contract, see docs/architecture.md)."""

from django.urls import path

from channels_app.webchat.consumer import ChatConsumer

websocket_urlpatterns = [
    path("ws/chat/<str:slug>/", ChatConsumer.as_asgi(), name="webchat-socket"),
]
