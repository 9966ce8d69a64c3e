"""The OpenAPI schema is generated without warnings: nothing is printed on each `GET /api/schema/`."""

from __future__ import annotations

import pytest
from drf_spectacular.drainage import reset_generator_stats

pytestmark = pytest.mark.django_db


def test_serving_the_schema_warns_about_nothing(client, capsys, caplog):
    reset_generator_stats()  # a warning printed once is not printed again; start from none

    for _ in range(2):
        assert client.get("/api/schema/").status_code == 200

    printed = capsys.readouterr()
    assert "Warning" not in printed.err and "Error" not in printed.err, printed.err
    assert not [record for record in caplog.records if record.name.startswith("drf_spectacular")]


def test_draft_and_message_statuses_are_two_named_enums(client):
    schemas = client.get("/api/schema/?format=json").json()["components"]["schemas"]

    assert "pending" in schemas["DraftStatusEnum"]["enum"]
    assert "delivered" in schemas["MessageStatusEnum"]["enum"]
    assert not [name for name in schemas if name.startswith("Status")], "no collision-resolved names"
