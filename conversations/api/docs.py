"""The OpenAPI schema in the contract's spelling, and its docs page, which works offline."""

from __future__ import annotations

from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView


class ContractEndpointEnumerator(EndpointEnumerator):
    """Spell `/?` routes as docs/architecture.md does: collections and objects end in `/`, actions do not."""

    def get_path_from_regex(self, path_regex: str) -> str:
        path = super().get_path_from_regex(path_regex)
        segments = path.rstrip("/").split("/")
        is_action = (
            path_regex.endswith("/?$")
            and len(segments) >= 2
            and segments[-2].startswith("{")
            and not segments[-1].startswith("{")
        )
        return path.rstrip("/") if is_action else path


class ContractSchemaGenerator(SchemaGenerator):
    """drf-spectacular's generator with the contract's path spelling."""

    endpoint_inspector_cls = ContractEndpointEnumerator


class SchemaView(SpectacularAPIView):
    """`GET /api/schema/`: OpenAPI 3 as YAML, or JSON with `?format=json`."""

    generator_class = ContractSchemaGenerator


class DocsView(SpectacularSwaggerSplitView):
    """`GET /api/docs/`: Swagger UI on the live schema, its assets served from this server.

    drf-spectacular-sidecar ships Swagger UI's files as static files, so the page needs no CDN (a
    self-hosted gatekeeper may have no internet); the split view serves its start-up script as a
    file too, so the page carries no inline script.
    """

    url_name = "api-schema"
    title = "Gatekeeper API"
