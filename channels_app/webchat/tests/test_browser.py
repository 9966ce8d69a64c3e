"""The chat page and the widget in a real headless Chromium, against the server `make run` starts.

One `manage.py serve` for the module (SQLite, jobs in process, in-memory channel layer, the rules
engine, daphne serving HTTP and WebSocket on one port), two plain sites on other loopback ports
(one allowed to embed the widget, one not), and the owner acting through the REST API.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from channels_app.webchat.tests.servers import static_site
from conversations.tests.servers import CHROMIUM, CHROMIUM_ARGS, free_port, serve

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"needs Debian's Chromium at {CHROMIUM}"),
]

BILL = "Hello, your mobile data plan renews next week and roaming charges apply."
METER = "Your electricity meter reading is due for the gas supply."
XSS = "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script><b>bold?</b>"
TIMEOUT_MS = 15_000

HOST_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Acme Mobile support</title></head>
<body>
  <h1>Acme Mobile</h1>
  <p>A plain page on another site, with the one-line widget.</p>
  <script src="{base}/static/webchat/widget.js" data-slug="chat" data-label="Chat with us" async></script>
</body>
</html>
"""


@dataclass
class Server:
    base: str
    api: httpx.Client
    log: Path
    allowed_site: str
    other_site: str

    @property
    def chat_url(self) -> str:
        return f"{self.base}/chat/chat/"

    def set_rule(self, category: str, action: str, keywords: tuple[str, ...] = ()) -> None:
        """The owner changes a rule through the API, as from the dashboard."""
        rules = self.api.get("/user-settings/rules/").json()
        rules = rules["results"] if isinstance(rules, dict) else rules
        rule = next(r for r in rules if r["category"] == category)
        assert (
            self.api.patch(
                f"/user-settings/rules/{rule['id']}/",
                json={"action": action, "match_keywords": list(keywords)},
            ).status_code
            == 200
        )

    def conversation_with(self, text: str) -> int:
        """The id of the conversation in which a visitor wrote `text`."""
        for summary in self.api.get("/api/conversations/").json()["results"]:
            detail = self.api.get(f"/api/conversations/{summary['id']}/").json()
            if any(message["text"] == text for message in detail["messages"]):
                return summary["id"]
        raise AssertionError(f"no conversation has {text!r}")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("webchat-browser")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    for site in ("allowed", "other"):
        (folder / site).mkdir()
        (folder / site / "index.html").write_text(HOST_PAGE.format(base=base))
    with (
        static_site(folder / "allowed") as allowed_site,
        static_site(folder / "other") as other_site,
        serve(
            folder,
            port=port,
            SECRET_KEY="webchat-browser-test-secret",
            GATEKEEPER_PASSWORD="browser-password",
            WEBCHAT_ALLOWED_ORIGINS=allowed_site,
        ) as served,
    ):
        running = Server(base, served.api, served.log, allowed_site, other_site)
        running.set_rule("cellphone_provider", "auto", ("mobile",))
        yield running


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser):
    """A page in a fresh browser profile (its own storage: a new visitor), closed after the test."""
    contexts = []

    def open_page(**options):
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        return page

    yield open_page
    for context in contexts:
        context.close()


def open_chat(page, url: str) -> None:
    page.goto(url)
    page.locator("#connection[data-state=online]").wait_for()


def send(page_or_frame, text: str) -> None:
    """Type like a person: the labelled textbox, then Enter."""
    box = page_or_frame.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def test_the_printed_chat_page_shows_the_assistants_reply_then_an_approved_draft_live(server, new_page):
    assert f"Chat page         {server.chat_url}" in server.log.read_text()
    page = new_page()
    loads = []
    page.on("load", lambda _: loads.append(1))
    open_chat(page, server.chat_url)
    assert page.evaluate("document.activeElement.id") == "message-text", "the message box has focus"

    send(page, BILL)
    page.locator(".msg--visitor .msg__text", has_text="mobile data plan").wait_for()
    reply = page.locator(".msg--assistant .msg__text").first
    reply.wait_for()
    assert "mobile service" in reply.text_content()

    server.set_rule("cellphone_provider", "draft")  # the owner wants to see the next one first
    try:
        send(page, "Can you confirm the new plan price?")
        page.locator("#held").wait_for(state="visible")
        (draft,) = server.api.get("/api/drafts/", params={"status": "pending"}).json()["results"]
        approved = server.api.post(
            f"/api/drafts/{draft['id']}/approve", json={"text": "The owner will call you."}
        )
        assert approved.status_code == 200
        page.locator(".msg--assistant .msg__text", has_text="The owner will call you.").wait_for()
        page.locator("#held").wait_for(state="hidden")
    finally:
        server.set_rule("cellphone_provider", "auto", ("mobile",))
    assert len(loads) == 1, "everything arrived without a reload"

    page.reload()
    page.locator(".msg--assistant .msg__text", has_text="The owner will call you.").wait_for()
    assert page.locator(".msg").count() == 4, "a reload restores the whole conversation"


def test_html_from_the_visitor_and_from_the_owner_is_shown_as_text_and_never_runs(server, new_page):
    page = new_page()
    open_chat(page, server.chat_url)
    title = page.title()
    send(page, XSS)
    mine = page.locator(".msg--visitor .msg__text").first
    # Shown at once while pending; stored once the server confirms it.
    page.locator(".msg--visitor:not(.is-pending)").first.wait_for()
    conversation = server.conversation_with(XSS)
    answer = server.api.post(
        f"/api/conversations/{conversation}/reply", json={"text": "<i>owner</i> <script>x</script>"}
    )
    assert answer.status_code in (200, 201, 202)
    owner = page.locator(".msg--owner .msg__text")
    owner.wait_for()

    assert mine.text_content() == XSS
    assert owner.text_content() == "<i>owner</i> <script>x</script>"
    assert page.locator("#messages img, #messages script, #messages b, #messages i").count() == 0
    assert page.title() == title


def test_two_visitors_in_two_browsers_each_see_only_their_own_conversation(server, new_page):
    alice, bob = new_page(), new_page()
    open_chat(alice, server.chat_url)
    open_chat(bob, server.chat_url)
    send(alice, "Alice here about my mobile phone bill " + BILL)
    alice.locator(".msg--assistant").wait_for()
    send(bob, "Bob here")
    bob.locator(".msg--visitor", has_text="Bob here").wait_for()
    alice.wait_for_timeout(500)

    assert [t for t in alice.locator(".msg__text").all_text_contents() if "Bob" in t] == []
    assert bob.locator(".msg").count() == 1
    assert bob.locator(".msg--assistant").count() == 0


def test_the_widget_opens_the_chat_on_an_allowed_site_by_keyboard(server, new_page):
    page = new_page()
    page.goto(f"{server.allowed_site}/index.html")
    bubble = page.get_by_role("button", name="Chat with us")
    bubble.wait_for()
    assert bubble.get_attribute("aria-expanded") == "false"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    # The widget opens when the frame says it is ready: wait for it rather than race it.
    page.get_by_role("button", name="Chat with us", expanded=True).wait_for()

    chat = page.frame_locator("iframe[title='Chat with us']")
    chat.locator("#connection[data-state=online]").wait_for()
    send(chat, "From the widget: " + BILL)
    chat.locator(".msg--visitor", has_text="From the widget").wait_for()
    chat.locator(".msg--assistant").wait_for()

    chat.get_by_role("button", name="Close chat").click()
    page.get_by_role("button", name="Chat with us", expanded=False).wait_for()
    assert page.evaluate("document.activeElement.getAttribute('data-gatekeeper-chat')") == "chat"


def test_a_site_that_is_not_allowed_cannot_frame_the_chat_and_the_widget_says_so(server, new_page):
    page = new_page()
    page.goto(f"{server.other_site}/index.html")
    page.get_by_role("button", name="Chat with us").click()
    page.get_by_role("alert").filter(has_text="not available on this site").wait_for()
    (chat_frame,) = [frame for frame in page.frames if frame != page.main_frame]
    assert chat_frame.url.startswith("chrome-error://"), "Chromium refused to frame the chat page"
