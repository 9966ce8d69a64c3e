"""The newcomer's path in the embedded default: SQLite, jobs in process, the rules engine.

`manage.py serve` (what `make run` runs) in its own process, `simulate_inbound` in another,
the API to approve, and a loopback Graph API to see what would reach WhatsApp.
"""

from __future__ import annotations

import pytest

from channels_app.testing.graph_api import GraphAPIStandIn
from conversations.tests.servers import manage, serve, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def embedded_server(tmp_path):
    with (
        GraphAPIStandIn(token="embedded-token") as graph,
        serve(
            tmp_path,
            SECRET_KEY="embedded-mode-test-secret",
            WHATSAPP_APP_SECRET="embedded-app-secret",
            WHATSAPP_API_TOKEN="embedded-token",
            WHATSAPP_GRAPH_API_URL=graph.url,
            GATEKEEPER_PASSWORD="embedded-password",
        ) as served,
    ):
        yield served.api, graph, served.env


def test_a_newcomer_sees_a_draft_approves_it_and_then_delegates(embedded_server):
    api, graph, env = embedded_server
    assert api.get("/healthz").json() == {"database": "ok", "queue": "in-process"}

    simulated = manage("simulate_inbound", "Your bill is ready", env=env)
    assert simulated.returncode == 0, simulated.stderr
    drafts = wait_for(
        lambda: api.get("/api/drafts/", params={"status": "pending"}).json()["results"],
        what="a pending draft",
    )
    assert drafts[0]["category"] == "cellphone_provider"
    assert graph.sent_texts() == [], "nothing goes out before the owner approves"

    assert api.post(f"/api/drafts/{drafts[0]['id']}/approve").status_code == 200
    (sent,) = graph.wait_for_sent_texts(1)
    assert sent.text == drafts[0]["text"]

    rules = api.get("/user-settings/rules/").json()
    rules = rules["results"] if isinstance(rules, dict) else rules
    rule = next(r for r in rules if r["category"] == "cellphone_provider")
    delegated = {"action": "auto", "match_senders": ["+15550001111"]}
    assert api.patch(f"/user-settings/rules/{rule['id']}/", json=delegated).status_code == 200
    assert manage("simulate_inbound", "Your new bill is ready", env=env).returncode == 0
    graph.wait_for_sent_texts(2)
