"""The provider webhooks; included at the site root (the paths are a contract, see DESIGN.md)."""

from django.urls import path

from channels_app.whatsapp.views import whatsapp_webhook

urlpatterns = [
    path("webhook/whatsapp", whatsapp_webhook, name="whatsapp-webhook"),
]
