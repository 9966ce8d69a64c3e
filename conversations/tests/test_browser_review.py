"""A real browser on the review dashboard: log in, open the queue, approve a draft, see it sent once.

The server runs as `make run` runs it (`manage.py serve`: SQLite, jobs in process) in its own
process, with a scripted engine so the drafts are known, and a loopback Graph API to see what
would reach WhatsApp. Headless Debian Chromium is driven through playwright.

Set GATEKEEPER_SCREENSHOTS to a folder (e.g. `docs`) to keep the queue and conversation
screenshots there; otherwise they go to the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from channels_app.testing.graph_api import GraphAPIStandIn

if TYPE_CHECKING:
    from playwright.sync_api import Browser
from channels_app.whatsapp.signature import sign
from channels_app.whatsapp_payloads import encode, text_message_payload
from conversations.tests.servers import CHROMIUM, CHROMIUM_ARGS, ROOT, serve, wait_for

APP_SECRET = "browser-app-secret"
GRAPH_TOKEN = "browser-graph-token"
PASSWORD = "browser-password"

#: What the scripted engine answers, by what the provider wrote.
SCRIPT = [
    {
        "match": "upgrade",
        "reply": "Thanks, but please keep my current plan as it is.",
        "category": "cellphone_provider",
        "confidence": 0.91,
        "reason": "The provider offers an upgrade; the owner declines upsells.",
    },
    {
        "match": "overdue",
        "reply": "I will pay the bill on Friday. My customer number is 7788-1234.",
        "category": "utilities",
        "confidence": 0.62,
        "reason": "A payment reminder; the owner usually pays on Fridays.",
    },
    {
        "match": "verification code",
        "reply": "I don't share codes over chat.",
        "category": "bank",
        "confidence": 0.8,
        "reason": "The bank asks for a code.",
    },
    {
        "match": "still there",
        "reply": "Yes, please wait for my reply.",
        "category": "cellphone_provider",
        "confidence": 0.7,
        "reason": "The provider follows up.",
    },
]

pytestmark = pytest.mark.slow


@dataclass
class Server:
    """The running product, its API client and what the Graph API stand-in received."""

    base: str
    api: httpx.Client
    graph: GraphAPIStandIn
    phone_number_id: str

    def provider_writes(self, text: str, *, sender: str, name: str) -> None:
        """Post a signed webhook exactly as Meta would."""
        body = encode(
            text_message_payload(phone_number_id=self.phone_number_id, sender=sender, name=name, text=text)
        )
        response = self.api.post(
            "/webhook/whatsapp",
            content=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, APP_SECRET)},
        )
        assert response.status_code == 200, response.text

    def pending(self) -> list[dict]:
        """The owner's pending drafts, newest first."""
        return self.api.get("/api/drafts/", params={"status": "pending"}).json()["results"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """`manage.py serve` in its own process, with the scripted engine and a loopback Graph API."""
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    with (
        GraphAPIStandIn(token=GRAPH_TOKEN) as graph,
        serve(
            tmp_path,
            SECRET_KEY="browser-test-secret",
            WHATSAPP_APP_SECRET=APP_SECRET,
            WHATSAPP_API_TOKEN=GRAPH_TOKEN,
            WHATSAPP_GRAPH_API_URL=graph.url,
            GATEKEEPER_PASSWORD=PASSWORD,
            AI_ENGINE="scripted",
            AI_SCRIPT_PATH=str(script),
        ) as served,
    ):
        yield Server(base=served.base, api=served.api, graph=graph, phone_number_id="100000000000001")


def _seed(server: Server) -> dict:
    """A morning's worth of providers: an upsell, a payment promise with a private number, a code request."""
    assert server.api.post(
        "/user-settings/facts/", json={"key": "customer number", "value": "7788-1234", "private": True}
    ).is_success
    server.provider_writes(
        "Your bill of $42.10 is ready. Reply YES to upgrade to Unlimited for $10 more a month.",
        sender="15550001111",
        name="Acme Mobile",
    )
    server.provider_writes(
        "Your electricity payment of $80.00 is overdue. Please confirm when you will pay.",
        sender="15550002222",
        name="City Power",
    )
    server.provider_writes(
        "Security check: please reply with the verification code we just sent you.",
        sender="15550003333",
        name="First Bank",
    )
    return wait_for(
        lambda: {d["contact"]["name"]: d for d in server.pending()} if len(server.pending()) >= 3 else None,
        what="three pending drafts",
    )


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium through playwright (never a downloaded browser)."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def _screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("GATEKEEPER_SCREENSHOTS") or tmp_path)
    if not folder.is_absolute():
        folder = ROOT / folder
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_owner_logs_in_approves_a_draft_in_the_browser_and_it_is_sent_once(server, browser, tmp_path):
    drafts = _seed(server)
    upsell = drafts["Acme Mobile"]
    shots = _screenshots(tmp_path)
    page = browser.new_page(viewport={"width": 1360, "height": 900})

    page.goto(f"{server.base}/admin/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    queue = page.locator(".gk-queue")
    queue.wait_for()
    assert "3 drafts waiting for approval" in re.sub(r"\s+", " ", queue.inner_text())
    page.screenshot(path=str(shots / "review-queue.png"), full_page=True)

    page.locator(".gk-queue-row", has_text="Acme Mobile").get_by_role("link", name="Review").click()
    card = page.locator(f"#draft-{upsell['id']}")
    card.wait_for()
    assert "Thanks, but please keep my current plan" in card.inner_text()
    card.get_by_role("button", name="Approve and send").click()
    page.wait_for_selector("text=Approved: the reply is queued")

    (sent,) = server.graph.wait_for_sent_texts(1)
    assert sent.text == upsell["text"]
    assert sent.to == "+15550001111"
    # The draft is marked sent once the send is recorded; from then nothing is queued or sending,
    # so there is nothing left that could send it twice.
    wait_for(
        lambda: server.api.get(f"/api/drafts/{upsell['id']}/").json()["status"] == "sent",
        what="the draft marked sent",
    )
    messages = server.api.get(f"/api/conversations/{upsell['conversation']}/").json()["messages"]
    assert [m["status"] for m in messages if m["direction"] == "out"] == ["sent"]
    assert len(server.graph.sent_texts()) == 1

    page.reload()
    page.wait_for_selector(".gk-delivery-sent")
    history = page.locator(".gk-history").inner_text()
    assert f"Approved draft #{upsell['id']}" in history
    assert "owner" in history
    page.screenshot(path=str(shots / "conversation-approved.png"), full_page=True)

    other = drafts["City Power"]
    page.goto(f"{server.base}/admin/conversations/conversation/{other['conversation']}/change/")
    page.locator(f"#draft-{other['id']}").wait_for()
    marks = page.locator(f"#draft-{other['id']} mark.gk-hit").all_inner_texts()
    assert "pay" in marks and "7788-1234" in marks
    page.screenshot(path=str(shots / "conversation.png"), full_page=True)
