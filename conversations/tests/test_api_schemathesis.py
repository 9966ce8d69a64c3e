"""Schemathesis against /api/schema/: generated requests, valid and invalid, to every endpoint never get a 500.

Bounded and deterministic: a fixed seed, a few examples per operation, fuzzing only (the
coverage and example phases multiply the run time). Requests go through the real WSGI app,
authenticated as an owner who has a conversation, a pending draft, a rule and a fact.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from conversations.models import Fact, Rule

#: Examples generated per operation; with ~20 operations the run takes a few seconds.
MAX_EXAMPLES = 5
SEED = 20251124

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "suppress-health-check": ["all"],
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "mode": "all",
            "database": "none",
        },
        "phases": {
            "examples": {"enabled": False},
            "coverage": {"enabled": False},
            "stateful": {"enabled": False},
        },
    }
)

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application(), config=CONFIG)


@pytest.fixture(autouse=True)
def _one_connection_for_the_test_transaction() -> Iterator[None]:
    """Django's test client does the same: closing the connection after a request would end the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def owner_headers(owner_a, conversation_a, draft_a) -> dict[str, str]:
    """Token headers of an owner with something behind every endpoint."""
    Rule.objects.create(owner=owner_a, category="bank", match_keywords=["pix"])
    Fact.objects.create(owner=owner_a, key="cpf", value="123.456.789-00")
    return {"Authorization": f"Token {Token.objects.create(user=owner_a).key}"}


@pytest.mark.django_db
@schema.parametrize()
def test_no_generated_request_gets_a_server_error(case, owner_headers):
    case.call_and_validate(headers=owner_headers, checks=[not_a_server_error])
