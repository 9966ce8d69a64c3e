"""The provider webhooks and the web-chat pages; included at the site root (paths: see docs/architecture.md)."""

from django.urls import path

from channels_app.twilio.views import twilio_status_webhook, twilio_webhook
from channels_app.twilio.voice.views import voice_gather_webhook, voice_status_webhook, voice_webhook
from channels_app.webchat.views import chat_page, webchat_api
from channels_app.whatsapp.views import whatsapp_webhook

urlpatterns = [
    path("webhook/whatsapp", whatsapp_webhook, name="whatsapp-webhook"),
    path("webhook/twilio", twilio_webhook, name="twilio-webhook"),
    path("webhook/twilio/status", twilio_status_webhook, name="twilio-status-webhook"),
    path("webhook/twilio/voice", voice_webhook, name="twilio-voice-webhook"),
    path("webhook/twilio/voice/gather", voice_gather_webhook, name="twilio-voice-gather"),
    path("webhook/twilio/voice/status", voice_status_webhook, name="twilio-voice-status"),
    path("webchat", webchat_api, name="webchat"),
    path("chat/<str:slug>/", chat_page, name="webchat-page"),
]
