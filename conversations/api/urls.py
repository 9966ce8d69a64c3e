"""Full paths of the REST API, the schema, its docs, /healthz and /metrics; each with or without a final `/`."""

from django.urls import include, re_path
from rest_framework.routers import SimpleRouter

from conversations.api import docs, views
from conversations.health import healthz
from conversations.metrics import metrics

#: docs/architecture.md spells actions without a trailing slash (`/api/drafts/<id>/approve`) and
#: collections with one (`/api/drafts/`); accept both spellings everywhere.
OPTIONAL_SLASH = "/?"

router = SimpleRouter()
router.trailing_slash = OPTIONAL_SLASH
router.register("user-settings/rules", views.RuleViewSet, basename="rule")
router.register("user-settings/facts", views.FactViewSet, basename="fact")
router.register("api/drafts", views.DraftViewSet, basename="draft")
router.register("api/conversations", views.ConversationViewSet, basename="conversation")

urlpatterns = [
    re_path(r"^healthz/?$", healthz, name="healthz"),
    re_path(r"^metrics/?$", metrics, name="metrics"),
    re_path(r"^user-settings/?$", views.OwnerSettingsView.as_view(), name="owner-settings"),
    re_path(r"^api/schema/?$", docs.SchemaView.as_view(), name="api-schema"),
    re_path(r"^api/docs/?$", docs.DocsView.as_view(), name="api-docs"),
    *router.urls,
    re_path(r"", include("conversations.api.window_urls")),
    re_path(r"", include("conversations.api.followup_urls")),
]
