"""The review dashboard on the owner's phone and on a desktop, and live, in a real Chromium.

The product runs as `make run` runs it (`manage.py serve`: SQLite, jobs in process), or, when
the test run has DATABASE_URL (PostgreSQL) and REDIS_URL, on a fresh database of that server with
Redis for jobs and the channel layer. Two owners are set up with the documented commands.

Layout: at 390 px and 1280 px the queue, a conversation, the drafts list and the conversations
list never scroll sideways, and approve, edit and reject stay on screen (44 px tall on a phone).
Live: a signed Meta webhook for alice shows up on her open pages without a reload, her title
count moves, bob's page hears nothing of it, and a socket without a session is refused; a
delivery receipt updates the conversation page it belongs to and leaves the queue alone.

Set GATEKEEPER_SCREENSHOTS to a folder (e.g. `docs/screenshots`) to keep the screenshots.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import pytest

from channels_app.testing.graph_api import GraphAPIStandIn
from channels_app.whatsapp.signature import sign
from channels_app.whatsapp_payloads import encode, status_payload, text_message_payload
from conversations.tests.servers import CHROMIUM, CHROMIUM_ARGS, ROOT, manage, serve, wait_for

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"needs Debian's Chromium at {CHROMIUM}"),
]

APP_SECRET = "dashboard-app-secret"
GRAPH_TOKEN = "dashboard-graph-token"
ALICE_PASSWORD = "alice-dashboard-password"
ALICE_NUMBER = "100000000000001"
BOB_NUMBER = "100000000000002"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
#: How long a change may take to show on an open page.
LIVE_MS = 2000

SCRIPT = [
    {
        "match": "upgrade",
        "reply": "Thanks, but please keep my current plan exactly as it is; I will not upgrade today.",
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
        "match": "",
        "reply": "Thank you, I will get back to you.",
        "category": "other",
        "confidence": 0.5,
        "reason": "Anything else waits for the owner.",
    },
]


@dataclass
class Owner:
    username: str
    password: str
    number: str
    api: httpx.Client


@dataclass
class Install:
    base: str
    alice: Owner
    bob: Owner
    graph: GraphAPIStandIn

    def provider_writes(self, owner: Owner, text: str, *, sender: str, name: str) -> None:
        """A company writes to the owner's number: a webhook signed exactly as Meta signs it."""
        self._meta_posts(
            text_message_payload(phone_number_id=owner.number, sender=sender, name=name, text=text)
        )

    def provider_reports(self, owner: Owner, message_id: str, status: str) -> None:
        """Meta's delivery receipt for a message the owner's number sent."""
        self._meta_posts(
            status_payload(
                phone_number_id=owner.number, message_id=message_id, status=status, recipient="1555"
            )
        )

    def _meta_posts(self, payload: dict) -> None:
        body = encode(payload)
        response = httpx.post(
            f"{self.base}/webhook/whatsapp",
            content=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, APP_SECRET)},
            timeout=10,
        )
        assert response.status_code == 200, response.text

    def pending(self, owner: Owner) -> list[dict]:
        return owner.api.get("/api/drafts/", params={"status": "pending"}).json()["results"]

    def conversations(self, owner: Owner) -> list[dict]:
        return owner.api.get("/api/conversations/").json()["results"]


def _services(folder: Path) -> Iterator[dict[str, str]]:
    """PostgreSQL (a fresh database) and Redis when the run has them; else nothing (SQLite, in process)."""
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith("postgres") or not redis_url:
        yield {}
        return
    import psycopg

    name = f"gk_dashboard_{uuid.uuid4().hex[:10]}"
    admin_url = urlsplit(database_url)._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    try:
        prefix = f"dashboard-{uuid.uuid4().hex[:8]}"
        yield {
            "DATABASE_URL": urlsplit(database_url)._replace(path=f"/{name}").geturl(),
            "REDIS_URL": redis_url,
            "CHANNEL_LAYER_PREFIX": prefix,
            "CACHE_KEY_PREFIX": prefix,
            "GATEKEEPER_QUEUE": prefix,
        }
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def install(tmp_path_factory) -> Iterator[Install]:
    folder = tmp_path_factory.mktemp("dashboard")
    script = folder / "script.json"
    script.write_text(json.dumps(SCRIPT))
    services = _services(folder)
    with (
        GraphAPIStandIn(token=GRAPH_TOKEN) as graph,
        serve(
            folder,
            SECRET_KEY="dashboard-test-secret",
            WHATSAPP_APP_SECRET=APP_SECRET,
            WHATSAPP_API_TOKEN=GRAPH_TOKEN,
            WHATSAPP_GRAPH_API_URL=graph.url,
            GATEKEEPER_OWNER="alice",
            GATEKEEPER_PASSWORD=ALICE_PASSWORD,
            AI_ENGINE="scripted",
            AI_SCRIPT_PATH=str(script),
            **next(services),
        ) as served,
    ):
        bob_setup = manage("gatekeeper_setup", "--username", "bob", "--whatsapp", BOB_NUMBER, env=served.env)
        assert bob_setup.returncode == 0, bob_setup.stderr
        lines = dict(line.split(": ", 1) for line in bob_setup.stdout.splitlines() if ": " in line)
        with httpx.Client(
            base_url=served.base, headers={"Authorization": f"Token {lines['token']}"}, timeout=10
        ) as bob_api:
            running = Install(
                served.base,
                Owner("alice", ALICE_PASSWORD, ALICE_NUMBER, served.api),
                Owner("bob", lines["password"], BOB_NUMBER, bob_api),
                graph,
            )
            _seed(running)
            yield running
    next(services, None)


def _seed(install: Install) -> None:
    """Alice's morning: an upsell, a payment promise, a code request (escalated), from long names."""
    alice = install.alice
    install.provider_writes(
        alice,
        "Your bill of $42.10 is ready. Reply YES to upgrade to Unlimited Premium Plus for $10 more a month.",
        sender="15550001111",
        name="Acme Mobile Telecommunications International Customer Care",
    )
    install.provider_writes(
        alice,
        "Your electricity payment of $80.00 is overdue. Please confirm when you will pay.",
        sender="15550002222",
        name="City Power & Light Residential Billing Department",
    )
    install.provider_writes(
        alice,
        "Security check: please reply with the verification code we just sent you.",
        sender="15550003333",
        name="First National Bank",
    )
    install.provider_writes(
        install.bob, "Bobs Bank: your statement is ready.", sender="15550009999", name="Bobs Bank"
    )
    wait_for(lambda: len(install.pending(alice)) >= 3, what="alice's three pending drafts")
    wait_for(lambda: len(install.pending(install.bob)) >= 1, what="bob's pending draft")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("GATEKEEPER_SCREENSHOTS") or tmp_path)
    if not folder.is_absolute():
        folder = ROOT / folder
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _logged_in(browser: Browser, install: Install, owner: Owner, viewport: dict) -> Page:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(f"{install.base}/admin/login/")
    page.fill("#id_username", owner.username)
    page.fill("#id_password", owner.password)
    page.click("input[type=submit]")
    page.wait_for_selector("#gk-live", state="attached")
    return page


def _no_sideways_scroll(page: Page, what: str) -> None:
    widths = page.evaluate(
        """() => {
            const inner = document.querySelector('#changelist .results, .gk-queue');
            return {
                document: document.documentElement.scrollWidth,
                window: window.innerWidth,
                results: inner ? inner.scrollWidth - inner.clientWidth : 0,
            };
        }"""
    )
    assert widths["document"] <= widths["window"], f"{what} scrolls sideways: {widths}"
    assert widths["results"] <= 0, f"{what}: the table scrolls sideways in its box: {widths}"


def _on_screen(page: Page, selector: str, *, what: str, tap: bool) -> None:
    """Every element matching `selector` lies within the viewport's width (and is thumb-sized on a phone)."""
    width = page.evaluate("() => window.innerWidth")
    controls = page.locator(selector)
    assert controls.count() > 0, f"no {what} on the page"
    for index in range(controls.count()):
        control = controls.nth(index)
        control.scroll_into_view_if_needed()
        box = control.bounding_box()
        assert box is not None, f"{what} #{index} is not shown"
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"{what} #{index} is off-screen: {box}"
        if tap:
            assert box["height"] >= 44 and box["width"] >= 44, f"{what} #{index} is too small to tap: {box}"


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_the_dashboard_fits_the_screen_and_its_buttons_are_reachable(install, browser, viewport, tmp_path):
    shots = _screenshots(tmp_path)
    size = viewport["width"]
    phone = viewport is PHONE
    page = _logged_in(browser, install, install.alice, viewport)

    page.locator(".gk-queue").wait_for()
    _no_sideways_scroll(page, "the review queue")
    _on_screen(page, ".gk-queue .gk-review-button", what="a Review button", tap=phone)
    page.screenshot(path=str(shots / f"review-queue-{size}.png"), full_page=True)

    upsell = next(d for d in install.pending(install.alice) if "upgrade" in d["text"])
    page.goto(f"{install.base}/admin/conversations/conversation/{upsell['conversation']}/change/")
    page.locator(f"#draft-{upsell['id']}").wait_for()
    _no_sideways_scroll(page, "the conversation page")
    for name, selector in [
        ("Approve", "button[value=approve]"),
        ("Save edits", "button[value=save]"),
        ("Reject", "button[value=reject]"),
        ("the draft's text box", ".gk-decide textarea"),
    ]:
        _on_screen(page, f"#draft-{upsell['id']} {selector}", what=name, tap=phone)
    for name, selector in [
        ("Schedule the follow-up", ".gk-followup-form button[type=submit]"),
        ("the follow-up's amount", ".gk-followup-form input[name=amount]"),
        ("the follow-up's unit", ".gk-followup-form select[name=unit]"),
        ("the follow-up's text box", ".gk-followup-form textarea"),
    ]:
        _on_screen(page, selector, what=name, tap=phone)
    page.locator(".gk-header").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / f"conversation-{size}.png"), full_page=True)

    page.goto(f"{install.base}/admin/conversations/draft/?status=pending")
    page.locator("#result_list").wait_for()
    _no_sideways_scroll(page, "the drafts list")
    _on_screen(page, "#result_list tbody th a", what="a draft's link (edit)", tap=phone)
    _on_screen(page, "#changelist-form select[name=action]", what="the approve/reject actions", tap=phone)
    _on_screen(page, "#changelist-form button[name=index]", what="the actions' Go button", tap=phone)
    page.screenshot(path=str(shots / f"drafts-{size}.png"), full_page=True)

    page.goto(f"{install.base}/admin/conversations/conversation/")
    page.locator("#result_list").wait_for()
    _no_sideways_scroll(page, "the conversations list")
    _on_screen(page, "#result_list tbody td.field-contact_shown a", what="a conversation's link", tap=phone)
    page.screenshot(path=str(shots / f"conversations-{size}.png"), full_page=True)
    page.context.close()


def _changed_frames(page: Page, kind: str = "changed") -> list[dict]:
    """Every frame of this type the page's dashboard socket receives, as it arrives."""
    frames: list[dict] = []

    def received(payload: str) -> None:
        frame = json.loads(payload)
        if frame["type"] == kind:
            frames.append(frame)

    def watch(socket) -> None:
        if socket.url.endswith("/ws/dashboard/"):
            socket.on("framereceived", received)

    page.on("websocket", watch)
    return frames


def _waiting(page: Page) -> int:
    match = re.match(r"\((\d+)\) ", page.title())
    return int(match[1]) if match else 0


def test_a_new_message_shows_on_the_owners_open_pages_and_nowhere_else(install, browser):
    from playwright.sync_api import expect

    alice, bob = install.alice, install.bob
    chat = next(c for c in install.conversations(alice) if "First National Bank" in str(c["contact"]))
    bobs = {c["id"] for c in install.conversations(bob)}

    queue = _logged_in(browser, install, alice, DESKTOP)
    conversation = queue.context.new_page()
    conversation.goto(f"{install.base}/admin/conversations/conversation/{chat['id']}/change/")
    bob_page = _logged_in(browser, install, bob, PHONE)
    bob_frames = _changed_frames(bob_page)
    bob_page.reload()
    for page in (queue, conversation, bob_page):
        page.wait_for_selector("html[data-gk-socket=open]")
    before = _waiting(queue)
    assert before == len(install.pending(alice)) + sum(
        c["status"] == "needs_attention" for c in install.conversations(alice)
    )

    install.provider_writes(
        alice,
        "Are you still there? Your card ending 4242 is blocked.",
        sender="15550003333",
        name="First National Bank",
    )
    expect(conversation.locator(".gk-thread")).to_contain_text(
        "Your card ending 4242 is blocked", timeout=LIVE_MS
    )
    expect(queue.locator(".gk-queue")).to_contain_text("Thank you, I will get back to you", timeout=LIVE_MS)
    queue.wait_for_function(
        "before => { const m = document.title.match(/^\\((\\d+)\\) /); return m && Number(m[1]) > before; }",
        arg=before,
        timeout=LIVE_MS,
    )
    assert _waiting(queue) == before + 1  # the new draft; the conversation already needed attention

    # Bob's socket is open and listening: his own company's message reaches it ...
    install.provider_writes(bob, "Bobs Bank: a new statement.", sender="15550009999", name="Bobs Bank")
    bob_page.wait_for_function(
        "() => document.documentElement.hasAttribute('data-gk-refreshed')", timeout=LIVE_MS
    )
    # ... and nothing of alice's ever did (hers were rung before his).
    assert bob_frames, "bob's page heard nothing"
    assert all(set(frame["conversations"]) <= bobs for frame in bob_frames), bob_frames
    assert chat["id"] not in {pk for frame in bob_frames for pk in frame["conversations"]}


def test_a_socket_without_a_staff_session_is_refused(install, browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{install.base}/admin/login/")
    outcome = page.evaluate(
        """() => new Promise((resolve) => {
            const socket = new WebSocket(`ws://${location.host}/ws/dashboard/`);
            socket.onopen = () => resolve('open');
            socket.onclose = () => resolve('refused');
        })"""
    )
    assert outcome == "refused"
    context.close()


def test_a_message_that_arrives_while_the_owner_reads_shows_and_still_forces_another_look(install, browser):
    from playwright.sync_api import expect

    alice = install.alice
    upsell = next(d for d in install.pending(alice) if "upgrade" in d["text"])
    page = _logged_in(browser, install, alice, PHONE)
    page.goto(f"{install.base}/admin/conversations/conversation/{upsell['conversation']}/change/")
    page.wait_for_selector("html[data-gk-socket=open]")
    card = page.locator(f"#draft-{upsell['id']}")
    card.locator("textarea").fill("No upgrade, thanks.")  # the owner is editing when the company writes

    install.provider_writes(
        alice,
        "Last chance: upgrade today and get a free phone!",
        sender="15550001111",
        name="Acme Mobile Telecommunications International Customer Care",
    )
    expect(page.locator(".gk-thread")).to_contain_text("Last chance: upgrade today", timeout=LIVE_MS)
    expect(card.locator(".gk-stale-note")).to_be_visible(timeout=LIVE_MS)
    assert card.locator("textarea").input_value() == "No upgrade, thanks."  # the edit survived the refresh

    card.locator("button[value=approve]").click()
    expect(page.locator("ul.messagelist")).to_contain_text("The conversation moved on", timeout=LIVE_MS)
    assert alice.api.get(f"/api/drafts/{upsell['id']}/").json()["status"] == "pending"
    page.context.close()


def _socket_and_fetches(page: Page) -> list[str]:
    """What the page's dashboard socket hears ("changed", "receipts") and each fetch of itself
    ("fetched"), in the order they happen."""
    events: list[str] = []

    def watch(socket) -> None:
        if socket.url.endswith("/ws/dashboard/"):
            socket.on("framereceived", lambda payload: events.append(json.loads(payload)["type"]))

    def finished(request) -> None:
        if request.resource_type == "fetch" and request.url == page.url:
            events.append("fetched")

    page.on("websocket", watch)
    page.on("requestfinished", finished)
    return events


def _until(page: Page, condition, what: str) -> None:
    """Let the page's events arrive until `condition()` holds (Playwright reports them while it waits)."""
    for _ in range(200):
        if condition():
            return
        page.wait_for_timeout(25)
    raise AssertionError(f"timed out waiting for {what}")


def _until_quiet(page: Page, events: list[str]) -> None:
    """Until the page has fetched itself after what it heard and nothing more came for 300 ms."""
    seen, still = len(events), 0
    for _ in range(400):
        page.wait_for_timeout(25)  # Playwright reports the page's events while it waits
        still = still + 1 if len(events) == seen else 0
        seen = len(events)
        if still >= 12 and events[-1:] == ["fetched"]:
            return
    raise AssertionError(f"the page never settled: {events}")


def test_a_delivery_receipt_shows_on_its_conversation_and_leaves_the_queue_alone(install, browser):
    from playwright.sync_api import expect

    alice = install.alice
    chat = next(c for c in install.conversations(alice) if "City Power" in str(c["contact"]))
    queue = _logged_in(browser, install, alice, DESKTOP)
    heard = _socket_and_fetches(queue)
    queue.reload()
    conversation = queue.context.new_page()
    conversation.goto(f"{install.base}/admin/conversations/conversation/{chat['id']}/change/")
    for page in (queue, conversation):
        page.wait_for_selector("html[data-gk-socket=open]")

    words = "I paid it this morning."
    reply = alice.api.post(f"/api/conversations/{chat['id']}/reply", json={"text": words})
    assert reply.status_code == 202, reply.text
    sent = next(text for text in install.graph.wait_for_sent_texts(1) if text.text == words)
    mine = conversation.locator(".gk-thread .gk-delivery").last
    expect(mine).to_contain_text("Sent", timeout=LIVE_MS)
    # The reply and its send rang `changed`: let the queue fetch itself for those, until it is quiet.
    quiet: list[int] = []
    _until(
        queue,
        lambda: (heard[-1:] == ["fetched"] and quiet.count(len(heard)) >= 12) or quiet.append(len(heard)),
        "the queue to catch up with the send",
    )
    before = len(heard)

    install.provider_reports(alice, sent.message_id, "delivered")
    expect(mine).to_contain_text("Delivered", timeout=LIVE_MS)
    install.provider_reports(alice, sent.message_id, "read")
    expect(mine).to_contain_text("Read", timeout=LIVE_MS)

    _until(queue, lambda: heard[before:].count("receipts") == 2, "the queue's socket to hear both receipts")
    after = heard[before:]
    fetched_for_a_change = "changed" in after and after.index("changed") < after.index("fetched")
    assert "fetched" not in after or fetched_for_a_change, f"the queue fetched itself for a tick: {after}"
    queue.context.close()
