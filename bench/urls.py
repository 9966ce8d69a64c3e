"""The product's URLs, and the comparison views under /bench/."""

from django.urls import include, path

from bench.views import bare, minimal_ingest

urlpatterns = [
    path("bench/bare", bare),
    path("bench/minimal", minimal_ingest),
    path("", include("gatekeeper_site.urls")),
]
