"""URL map; the paths are a contract (see DESIGN.md, "HTTP, WebSocket and commands")."""

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Gatekeeper"
admin.site.site_title = "Gatekeeper"
admin.site.index_title = "Review and steer your gatekeeper"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("django-rq/", include("django_rq.urls")),
    path("", include("channels_app.urls")),
    path("", include("conversations.api.urls")),
]
