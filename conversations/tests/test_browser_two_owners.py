"""Two owners on one install, set up with the documented commands, in a real Chromium and over the API.

The install runs as `make run` runs it (`manage.py serve`: SQLite, jobs in process) for the owner
alice (GATEKEEPER_OWNER, her first password in the environment as `.env` holds it, the demo number
and the chat page the environment names). Then bob is set up with `manage.py gatekeeper_setup`: first
naively with the environment's channels (refused: they are alice's), then with his own number and
chat page. An operator is created with `manage.py createsuperuser`. Neither owner sees, changes or
sends anything of the other's: admin pages, direct URLs, the decide button, the API with their
tokens, the chat pages' sockets and the RQ dashboard. A password alice changes in the admin
survives a restart, and no start prints a password or a token.
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from channels_app.testing.graph_api import GraphAPIStandIn
from channels_app.whatsapp.signature import sign
from channels_app.whatsapp_payloads import encode, text_message_payload
from conversations.tests.servers import CHROMIUM, CHROMIUM_ARGS, manage, process, serve, wait_for

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"needs Debian's Chromium at {CHROMIUM}"),
]

APP_SECRET = "two-owners-app-secret"
GRAPH_TOKEN = "two-owners-graph-token"
ALICE_FIRST_PASSWORD = "alice-first-password-from-env"
ALICE_NUMBER = "100000000000001"  # the demo number the environment names
BOB_NUMBER = "100000000000002"
OPERATOR_PASSWORD = "operator-password-1"
TIMEOUT_MS = 15_000

SCRIPT = [
    {
        "match": "Alice Telco",
        "reply": "Alice's reply: no upgrade, thank you.",
        "category": "cellphone_provider",
        "confidence": 0.9,
        "reason": "An upsell.",
    },
    {
        "match": "Bobs Bank",
        "reply": "Bob's private reply to his bank.",
        "category": "bank",
        "confidence": 0.9,
        "reason": "A bank notice.",
    },
]


@dataclass
class Owner:
    """One owner: their login, API client and what only they have."""

    username: str
    password: str
    token: str
    api: httpx.Client
    number: str
    chat: str
    contact: str
    markers: list[str] = field(default_factory=list)
    draft: dict = field(default_factory=dict)
    fact: dict = field(default_factory=dict)


@dataclass
class Install:
    base: str
    env: dict[str, str]
    folder: Path
    graph: GraphAPIStandIn
    alice: Owner
    bob: Owner
    naive_bob_setup: object = None

    def provider_writes(self, owner: Owner, text: str, *, sender: str) -> None:
        """A company writes to the owner's number: a webhook signed exactly as Meta signs it."""
        body = encode(
            text_message_payload(phone_number_id=owner.number, sender=sender, name=owner.contact, text=text)
        )
        response = httpx.post(
            f"{self.base}/webhook/whatsapp",
            content=body,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, APP_SECRET)},
            timeout=10,
        )
        assert response.status_code == 200, response.text


def _settings(folder: Path, graph: GraphAPIStandIn) -> dict[str, str]:
    script = folder / "script.json"
    script.write_text(json.dumps(SCRIPT))
    return {
        "SECRET_KEY": "two-owners-secret-key",
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_API_TOKEN": GRAPH_TOKEN,
        "WHATSAPP_GRAPH_API_URL": graph.url,
        "GATEKEEPER_OWNER": "alice",
        "GATEKEEPER_PASSWORD": ALICE_FIRST_PASSWORD,
        "WEBCHAT_SLUG": "alice-chat",
        "AI_ENGINE": "scripted",
        "AI_SCRIPT_PATH": str(script),
        # The RQ dashboard reads this queue only (on the machine's Redis), never another test's.
        "GATEKEEPER_QUEUE": f"two-owners-{uuid.uuid4().hex[:8]}",
    }


def _output_line(output: str, prefix: str) -> str:
    (line,) = [line for line in output.splitlines() if line.startswith(prefix)]
    return line.removeprefix(prefix)


@pytest.fixture(scope="module")
def install(tmp_path_factory) -> Iterator[Install]:
    folder = tmp_path_factory.mktemp("two-owners")
    with GraphAPIStandIn(token=GRAPH_TOKEN) as graph, serve(folder, **_settings(folder, graph)) as served:
        env = served.env
        naive = manage("gatekeeper_setup", "--username", "bob", env=env)
        bob_setup = manage(
            "gatekeeper_setup",
            "--username",
            "bob",
            "--whatsapp",
            BOB_NUMBER,
            "--webchat",
            "bob-chat",
            env=env,
        )
        assert bob_setup.returncode == 0, bob_setup.stderr
        operator = manage(
            "createsuperuser",
            "--noinput",
            "--username",
            "root",
            "--email",
            "root@example.com",
            env={**env, "DJANGO_SUPERUSER_PASSWORD": OPERATOR_PASSWORD},
        )
        assert operator.returncode == 0, operator.stderr
        alice_token = served.api.headers["Authorization"].removeprefix("Token ")
        bob_token = _output_line(bob_setup.stdout, "token: ")
        with httpx.Client(
            base_url=served.base, headers={"Authorization": f"Token {bob_token}"}, timeout=10
        ) as bob_api:
            alice = Owner(
                "alice",
                ALICE_FIRST_PASSWORD,
                alice_token,
                served.api,
                ALICE_NUMBER,
                "alice-chat",
                "Alice Telco",
            )
            bob = Owner(
                "bob",
                _output_line(bob_setup.stdout, "password: "),
                bob_token,
                bob_api,
                BOB_NUMBER,
                "bob-chat",
                "Bobs Bank Ltd",
            )
            running = Install(served.base, env, folder, graph, alice, bob, naive_bob_setup=naive)
            _seed(running)
            yield running


def _seed(install: Install) -> None:
    """A company writes to each owner, whose assistant holds a draft; each owner keeps a private fact."""
    install.provider_writes(install.alice, "Alice Telco: upgrade to Unlimited today?", sender="15550001111")
    install.provider_writes(install.bob, "Bobs Bank: your statement is ready.", sender="15550002222")
    for owner, key, value in [
        (install.alice, "alice-secret-key", "ALICE-PRIVATE-4411"),
        (install.bob, "bob-secret-key", "BOB-PRIVATE-8822"),
    ]:
        created = owner.api.post("/user-settings/facts/", json={"key": key, "value": value, "private": True})
        assert created.status_code == 201, created.text
        owner.fact = created.json()
        owner.draft = wait_for(
            lambda owner=owner: next(
                iter(owner.api.get("/api/drafts/?status=pending").json()["results"]), None
            ),
            what=f"{owner.username}'s pending draft",
        )
        owner.markers = [
            owner.contact,
            key,
            value,
            owner.draft["text"],
            owner.number,
            owner.chat,
            owner.token,
        ]


def _other(install: Install, owner: Owner) -> Owner:
    return install.bob if owner is install.alice else install.alice


def _leaks(text: str, other: Owner) -> list[str]:
    return [marker for marker in other.markers if marker in text or marker.replace("'", "&#x27;") in text]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_context(browser) -> Iterator:
    """A fresh browser profile (its own cookies and storage), closed after the test."""
    contexts: list[BrowserContext] = []

    def open_context() -> BrowserContext:
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()


def log_in(page: Page, base: str, username: str, password: str) -> bool:
    """Log in through the admin's form; whether it let us in."""
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("input[type=submit]")
    return "/admin/login/" not in page.url


# -- setup ---------------------------------------------------------------------------------------


def test_the_second_owners_setup_never_moves_the_first_owners_numbers(install):
    naive = install.naive_bob_setup

    assert naive.returncode != 0
    assert "belongs to alice" in naive.stderr and ALICE_NUMBER in naive.stderr
    assert "--move-channels" in naive.stderr
    alice_conversations = install.alice.api.get("/api/conversations/").json()["results"]
    assert [c["contact"]["name"] for c in alice_conversations] == ["Alice Telco"]
    bob_conversations = install.bob.api.get("/api/conversations/").json()["results"]
    assert [c["contact"]["name"] for c in bob_conversations] == ["Bobs Bank Ltd"]


# -- the admin, in Chromium ----------------------------------------------------------------------

ADMIN_LISTS = [
    "/admin/",
    "/admin/conversations/draft/?status=all",
    "/admin/conversations/conversation/",
    "/admin/conversations/message/",
    "/admin/conversations/escalation/",
    "/admin/conversations/fact/",
    "/admin/conversations/rule/",
    "/admin/conversations/contact/",
    "/admin/conversations/channelaccount/",
    "/admin/conversations/ownersettings/",
    "/admin/conversations/auditentry/",
    "/admin/authtoken/tokenproxy/",
    "/admin/conversations/draft/?q=Bob",
    "/admin/conversations/conversation/?q=Alice",
]


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_each_owner_sees_only_their_own_in_the_admin_and_the_others_urls_are_not_found(
    install, new_context, who
):
    me = getattr(install, who)
    other = _other(install, me)
    page = new_context().new_page()
    assert log_in(page, install.base, me.username, me.password)

    for url in ADMIN_LISTS:
        response = page.goto(f"{install.base}{url}")
        assert response.status == 200, url
        assert _leaks(page.content(), other) == [], url
    page.goto(f"{install.base}/admin/conversations/conversation/")
    assert me.contact in page.content()

    forbidden = {
        f"/admin/conversations/conversation/{other.draft['conversation']}/change/": 404,
        f"/admin/conversations/draft/{other.draft['id']}/change/": 404,
        f"/admin/conversations/fact/{other.fact['id']}/change/": 404,
        # The user admin, and with it any password form but one's own (`/admin/password_change/`).
        "/admin/conversations/user/": 403,
        "/admin/conversations/user/1/password/": 403,
        "/admin/conversations/user/2/password/": 403,
        "/admin/conversations/channelaccount/add/": 403,
    }
    for url, status in forbidden.items():
        response = page.goto(f"{install.base}{url}")
        assert response.status == status, url
        assert _leaks(page.content(), other) == [], url


def test_an_owner_cannot_approve_the_others_draft_even_by_tampering_with_the_form(install, new_context):
    alice, bob = install.alice, install.bob
    page = new_context().new_page()
    assert log_in(page, install.base, "alice", alice.password)
    page.goto(f"{install.base}/admin/conversations/conversation/{alice.draft['conversation']}/change/")
    form = page.locator(f"#draft-{alice.draft['id']} form.gk-decide")
    form.wait_for()

    form.evaluate(
        "(form, url) => { form.action = url; }", f"/admin/conversations/draft/{bob.draft['id']}/decide/"
    )
    with page.expect_response(re.compile(r"/decide/$")) as tampered:
        form.get_by_role("button", name="Approve and send").click()

    assert tampered.value.status == 404
    assert bob.api.get(f"/api/drafts/{bob.draft['id']}/").json()["status"] == "pending"
    assert [sent for sent in install.graph.sent_texts() if sent.phone_number_id == BOB_NUMBER] == []

    # Her own draft she approves with the same button, and it leaves from her number only.
    page.goto(f"{install.base}/admin/conversations/conversation/{alice.draft['conversation']}/change/")
    page.locator(f"#draft-{alice.draft['id']}").get_by_role("button", name="Approve and send").click()
    page.wait_for_selector("text=Approved: the reply is queued")
    (sent,) = install.graph.wait_for_sent_texts(1)
    assert (sent.phone_number_id, sent.to, sent.text) == (ALICE_NUMBER, "+15550001111", alice.draft["text"])
    assert bob.api.get(f"/api/drafts/{bob.draft['id']}/").json()["status"] == "pending"


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_neither_owner_opens_the_rq_dashboard_and_the_operator_does(install, new_context, who):
    me = getattr(install, who)
    page = new_context().new_page()
    assert log_in(page, install.base, me.username, me.password)

    for url in [
        "/django-rq/",
        "/django-rq/queues/0/",
        "/django-rq/stats.json",
        "/admin/django_rq/dashboard/",
    ]:
        assert page.goto(f"{install.base}{url}").status == 403, url
    assert "Django-RQ" not in page.goto(f"{install.base}/admin/").text()

    operator = new_context().new_page()
    assert log_in(operator, install.base, "root", OPERATOR_PASSWORD)
    assert operator.goto(f"{install.base}/django-rq/").status == 200
    assert install.env["GATEKEEPER_QUEUE"] in operator.content()
    conversations = operator.goto(f"{install.base}/admin/conversations/conversation/").text()
    assert "Alice Telco" in conversations and "Bobs Bank Ltd" in conversations


# -- the API, with each owner's token ------------------------------------------------------------


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_each_owners_token_reaches_only_their_own(install, who):
    me = getattr(install, who)
    other = _other(install, me)
    draft, conversation, fact = other.draft["id"], other.draft["conversation"], other.fact["id"]

    for url in ["/api/drafts/", "/api/conversations/", "/user-settings/facts/", "/user-settings/rules/"]:
        response = me.api.get(url)
        assert response.status_code == 200, url
        assert _leaks(response.text, other) == [], url

    attempts = {
        "draft": me.api.get(f"/api/drafts/{draft}/"),
        "approve": me.api.post(f"/api/drafts/{draft}/approve", json={"text": "hijacked"}),
        "reject": me.api.post(f"/api/drafts/{draft}/reject"),
        "conversation": me.api.get(f"/api/conversations/{conversation}/"),
        "reply": me.api.post(f"/api/conversations/{conversation}/reply", json={"text": "hijacked"}),
        "takeover": me.api.post(f"/api/conversations/{conversation}/takeover"),
        "window": me.api.get(f"/api/conversations/{conversation}/window"),
        "reengage": me.api.post(f"/api/conversations/{conversation}/reengage"),
        "fact": me.api.get(f"/user-settings/facts/{fact}/"),
        "change fact": me.api.patch(f"/user-settings/facts/{fact}/", json={"value": "leaked"}),
        "delete fact": me.api.delete(f"/user-settings/facts/{fact}/"),
    }

    assert {name: response.status_code for name, response in attempts.items()} == dict.fromkeys(attempts, 404)
    theirs = other.api.get(f"/api/conversations/{conversation}/").json()
    assert theirs["bot_paused"] is False
    assert [m["text"] for m in theirs["messages"] if m["direction"] == "out"] in ([], [other.draft["text"]])
    assert "hijacked" not in json.dumps(theirs)
    assert other.api.get(f"/user-settings/facts/{fact}/").json()["value"] == other.fact["value"]
    assert not [sent for sent in install.graph.sent_texts() if sent.text == "hijacked"]


# -- the chat pages' sockets, in Chromium ---------------------------------------------------------


def _chat(page: Page, base: str, slug: str) -> None:
    page.goto(f"{base}/chat/{slug}/")
    page.locator("#connection[data-state=online]").wait_for()


def _write(page: Page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")
    page.locator(".msg--visitor:not(.is-pending) .msg__text", has_text=text).wait_for()


def _conversation_with(owner: Owner, text: str) -> dict | None:
    for summary in owner.api.get("/api/conversations/").json()["results"]:
        detail = owner.api.get(f"/api/conversations/{summary['id']}/").json()
        if any(message["text"] == text for message in detail["messages"]):
            return detail
    return None


def test_a_visitor_of_one_owners_chat_page_is_never_the_other_owners(install, new_context):
    alice, bob = install.alice, install.bob
    context = new_context()  # one browser: the same visitor storage on both pages
    alice_page, bob_page = context.new_page(), context.new_page()
    _chat(alice_page, install.base, "alice-chat")
    _write(alice_page, "A visitor writes to alice")

    _chat(bob_page, install.base, "bob-chat")
    assert bob_page.locator(".msg").count() == 0, "bob's page shows nothing of alice's chat"
    _write(bob_page, "The same browser writes to bob")

    to_alice = wait_for(lambda: _conversation_with(alice, "A visitor writes to alice"), what="alice's chat")
    to_bob = wait_for(lambda: _conversation_with(bob, "The same browser writes to bob"), what="bob's chat")
    assert _conversation_with(bob, "A visitor writes to alice") is None
    assert _conversation_with(alice, "The same browser writes to bob") is None
    assert to_alice["contact"]["address"] != to_bob["contact"]["address"]

    # Alice answers her visitor by hand: it arrives on her page, never on bob's.
    answered = alice.api.post(
        f"/api/conversations/{to_alice['id']}/reply", json={"text": "Alice answers you"}
    )
    assert answered.status_code in (200, 201, 202)
    alice_page.locator(".msg--owner .msg__text", has_text="Alice answers you").wait_for()
    bob_page.wait_for_timeout(1000)  # anything misrouted would have arrived by now
    assert "Alice answers you" not in bob_page.locator("#messages").inner_text()
    bob_page.reload()
    bob_page.locator(".msg--visitor .msg__text", has_text="The same browser writes to bob").wait_for()
    assert "writes to alice" not in bob_page.locator("#messages").inner_text()


# -- restarts ------------------------------------------------------------------------------------


def test_a_password_changed_in_the_admin_survives_a_restart_and_no_start_prints_secrets(tmp_path, browser):
    new_password = "changed-in-the-admin-7"
    with GraphAPIStandIn(token=GRAPH_TOKEN) as graph:
        settings = _settings(tmp_path, graph)
        with serve(tmp_path, **settings) as served:
            token = served.api.headers["Authorization"].removeprefix("Token ")
            context = browser.new_context()
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            assert log_in(page, served.base, "alice", ALICE_FIRST_PASSWORD)
            page.goto(f"{served.base}/admin/password_change/")
            page.fill("#id_old_password", ALICE_FIRST_PASSWORD)
            page.fill("#id_new_password1", new_password)
            page.fill("#id_new_password2", new_password)
            page.click("input[type=submit]")
            page.wait_for_url(re.compile(r"/admin/password_change/done/$"))
            context.close()
            env, first_log = served.env, served.log.read_text()

        # `make run` again: `manage.py serve` sets alice up again before it serves.
        again = tmp_path / "serve-again.log"
        with process([sys.executable, "manage.py", "serve"], env=env, log=again):
            wait_for(lambda: _answers(served.base), timeout=30, what="the restarted server")
            context = browser.new_context()
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            assert not log_in(page, served.base, "alice", ALICE_FIRST_PASSWORD)
            assert log_in(page, served.base, "alice", new_password)
            assert page.locator(".gk-queue, #content").first.is_visible()
            context.close()
        second_log = again.read_text()

    for log in (first_log, second_log):
        assert "Log in as         alice, password: unchanged, not shown" in log
        assert "/admin/authtoken/tokenproxy/" in log
        for secret in (ALICE_FIRST_PASSWORD, new_password, token):
            assert secret not in log


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
