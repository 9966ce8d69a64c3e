"""`/api/docs/` in a real Chromium that may reach nothing but this server: it lists the endpoints offline."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conversations.tests.servers import CHROMIUM, CHROMIUM_ARGS, serve

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"needs Debian's Chromium at {CHROMIUM}"),
]


def port_in_our_range() -> int:
    """A free loopback port in 25000-25999, the range this suite's servers may use."""
    for port in range(25400, 26000):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 25400-25999")


def test_the_docs_page_lists_the_endpoints_with_no_request_leaving_the_machine(tmp_path):
    from playwright.sync_api import sync_playwright

    with (
        serve(
            tmp_path, port=port_in_our_range(), SECRET_KEY="docs-secret", GATEKEEPER_PASSWORD="pw"
        ) as server,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            elsewhere: list[str] = []

            def only_this_server(route) -> None:
                if urlsplit(route.request.url).hostname == "127.0.0.1":
                    route.continue_()
                else:
                    elsewhere.append(route.request.url)
                    route.abort()

            page.route("**/*", only_this_server)
            page.goto(f"{server.base}/api/docs/")
            page.get_by_text("/api/drafts/{id}/approve", exact=True).first.wait_for(timeout=20_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
        finally:
            browser.close()

    assert "/user-settings/rules/" in [path.replace("\u200b", "") for path in paths]
    assert elsewhere == []
