"""The API's authentication, its OpenAPI schema and the offline docs page."""

from __future__ import annotations

import re

import pytest
import yaml
from drf_spectacular.validation import validate_schema
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

CONTRACT_PATHS = {
    "/user-settings/": {"get", "patch"},
    "/user-settings/rules/": {"get", "post"},
    "/user-settings/rules/{id}/": {"get", "put", "patch", "delete"},
    "/user-settings/facts/": {"get", "post"},
    "/user-settings/facts/{id}/": {"get", "put", "patch", "delete"},
    "/api/drafts/": {"get"},
    "/api/drafts/{id}/": {"get"},
    "/api/drafts/{id}/approve": {"post"},
    "/api/drafts/{id}/reject": {"post"},
    "/api/conversations/": {"get"},
    "/api/conversations/{id}/": {"get"},
    "/api/conversations/{id}/takeover": {"post"},
    "/api/conversations/{id}/release": {"post"},
    "/api/conversations/{id}/reply": {"post"},
}

PROTECTED = [
    "/user-settings/",
    "/user-settings/rules/",
    "/user-settings/facts/",
    "/api/drafts/",
    "/api/conversations/",
]


@pytest.mark.parametrize("path", PROTECTED)
def test_anonymous_requests_are_refused(path):
    response = APIClient().get(path)

    assert response.status_code in (401, 403)


def test_a_wrong_token_is_refused():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    assert client.get("/api/drafts/").status_code == 401


def test_a_token_authenticates(owner_a):
    token = Token.objects.create(user=owner_a)

    response = APIClient().get("/api/drafts/", HTTP_AUTHORIZATION=f"Token {token.key}")

    assert response.status_code == 200


def test_the_admin_session_authenticates(client, owner_a):
    client.force_login(owner_a)

    assert client.get("/api/conversations/").status_code == 200


def test_session_writes_need_the_csrf_token(owner_a, draft_a):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(owner_a)

    assert client.post(f"/api/drafts/{draft_a.pk}/reject").status_code == 403


def test_schema_is_valid_openapi_with_the_contract_paths(client):
    response = client.get("/api/schema/")

    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    for path, methods in CONTRACT_PATHS.items():
        assert path in schema["paths"], path
        assert methods <= set(schema["paths"][path]), path


def test_schema_documents_the_action_bodies(client):
    schema = client.get("/api/schema/?format=json").json()
    approve = schema["paths"]["/api/drafts/{id}/approve"]["post"]
    reply = schema["paths"]["/api/conversations/{id}/reply"]["post"]

    assert approve["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("DraftApprove")
    assert approve["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Draft")
    assert "409" in approve["responses"]
    assert reply["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/Reply")
    assert "202" in reply["responses"]
    draft_fields = schema["components"]["schemas"]["Draft"]["properties"]
    assert {"id", "conversation", "status", "text", "category", "confidence", "reason"} <= set(draft_fields)


def test_docs_page_loads_every_asset_from_this_server(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    assert all(asset.startswith("/") and not asset.startswith("//") for asset in assets), assets
    assert "<script>" not in page, "the start-up script is a file of its own, not inline"
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and "/api/schema" in script.content.decode()
