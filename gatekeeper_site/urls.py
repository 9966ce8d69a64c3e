"""URL map; the paths are a contract (see docs/architecture.md, "The contract")."""

from django.contrib import admin
from django.urls import include, path

from conversations.admin.tools import rq_dashboard_urls, view_on_site
from gatekeeper_site.welcome import welcome

admin.site.site_header = "Gatekeeper"
admin.site.site_title = "Gatekeeper"
admin.site.index_title = "Review and steer your gatekeeper"
# "View site" opens the welcome page.
admin.site.site_url = "/"

urlpatterns = [
    path("", welcome, name="welcome"),
    # Ahead of the admin's own "view on site" shortcut, which answers 500 for a model without a table.
    path("admin/r/<int:content_type_id>/<path:object_id>/", admin.site.admin_view(view_on_site)),
    path("admin/", admin.site.urls),
    # The shared job queue: superusers only.
    path("django-rq/", include(rq_dashboard_urls())),
    path("", include("channels_app.urls")),
    path("", include("conversations.api.urls")),
]
