"""The OpenAPI schema in the contract's spelling, and an offline HTML reference built from it.

Swagger UI and ReDoc load their scripts from a CDN; a self-hosted gatekeeper may have no
internet, so `/api/docs/` renders the same schema as a plain page instead.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import reverse
from django.views.decorators.http import require_safe
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from drf_spectacular.views import SpectacularAPIView

_REF_PREFIX = "#/components/schemas/"


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


def _schema_name(schema: dict[str, Any] | None) -> str:
    if not schema:
        return ""
    if "$ref" in schema:
        return schema["$ref"].removeprefix(_REF_PREFIX)
    if schema.get("type") == "array":
        return f"list of {_schema_name(schema.get('items'))}"
    return schema.get("type", "object")


def _body_name(content: dict[str, Any] | None) -> str:
    for media in (content or {}).values():
        return _schema_name(media.get("schema"))
    return ""


def _operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = [
                f"{code} {_body_name(response.get('content'))}".strip()
                for code, response in operation["responses"].items()
            ]
            rows.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "tag": (operation.get("tags") or ["other"])[0],
                    "summary": operation.get("summary") or operation.get("description", "").split("\n")[0],
                    "parameters": [
                        p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"
                    ],
                    "request": _body_name(operation.get("requestBody", {}).get("content")),
                    "responses": responses,
                }
            )
    return sorted(rows, key=lambda row: (row["tag"], row["path"], row["method"]))


def _components(schema: dict[str, Any]) -> list[dict[str, Any]]:
    components = []
    for name, component in sorted(schema.get("components", {}).get("schemas", {}).items()):
        required = set(component.get("required", []))
        fields = [
            {
                "name": field,
                "type": _schema_name(spec) or ", ".join(str(v) for v in spec.get("enum", [])),
                "required": field in required,
                "read_only": spec.get("readOnly", False),
                "description": spec.get("description", ""),
            }
            for field, spec in component.get("properties", {}).items()
        ]
        choices = ", ".join(str(v) for v in component.get("enum", []))
        components.append(
            {
                "name": name,
                "description": component.get("description", ""),
                "fields": fields,
                "choices": choices,
            }
        )
    return components


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ info.title }}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
code{background:#f3f3f3;padding:0 .2rem}.m{font-weight:600;font-family:monospace}.muted{color:#777}
</style></head><body>
<h1>{{ info.title }} <small class="muted">{{ info.version }}</small></h1>
<p>{{ info.description }}</p>
<p>Authenticate with <code>Authorization: Token &lt;key&gt;</code> (the last line of
<code>manage.py gatekeeper_setup</code> when it makes the token; then in the admin under Tokens)
or your admin session. Machine-readable schema:
<a href="{{ schema_url }}">OpenAPI 3 (YAML)</a>, <a href="{{ schema_url }}?format=json">JSON</a>.
Every route also answers with or without a trailing slash. Lists are paginated with
<code>?limit=</code> and <code>?offset=</code>.</p>
<h2>Endpoints</h2>
<table><tr><th>method</th><th>path</th><th>what</th><th>query</th><th>body</th><th>responses</th></tr>
{% for op in operations %}<tr><td class="m">{{ op.method }}</td><td><code>{{ op.path }}</code></td>
<td>{{ op.summary }}</td><td>{{ op.parameters|join:", " }}</td><td>{{ op.request }}</td>
<td>{% for r in op.responses %}{{ r }}<br>{% endfor %}</td></tr>{% endfor %}
</table>
<h2>Objects</h2>
{% for c in components %}<h3 id="{{ c.name }}">{{ c.name }}</h3>
{% if c.description %}<p>{{ c.description }}</p>{% endif %}
{% if c.choices %}<p>One of: <code>{{ c.choices }}</code></p>{% endif %}
{% if c.fields %}<table><tr><th>field</th><th>type</th><th></th><th>description</th></tr>
{% for f in c.fields %}<tr><td><code>{{ f.name }}</code></td><td>{{ f.type }}</td>
<td class="muted">{% if f.read_only %}read-only{% elif f.required %}required{% endif %}</td>
<td>{{ f.description }}</td></tr>{% endfor %}</table>{% endif %}
{% endfor %}
</body></html>
"""


@require_safe
def api_docs(request: HttpRequest) -> HttpResponse:
    """`GET /api/docs/`: a readable reference that needs no CDN, rendered from the live schema."""
    schema = ContractSchemaGenerator().get_schema(request=None, public=True)
    context = {
        "info": schema.get("info", {}),
        "schema_url": reverse("api-schema"),
        "operations": _operations(schema),
        "components": _components(schema),
    }
    return HttpResponse(engines["django"].from_string(_PAGE).render(context, request))
