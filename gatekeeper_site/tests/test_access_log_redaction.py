"""What the access logs write for URLs and headers that carry credentials."""

from __future__ import annotations

import datetime

import pytest
from gunicorn.config import Config

from gatekeeper_site.accesslog import GunicornLogger, redact_query, redact_request_line, redact_url
from gatekeeper_site.daphne_server import redacting

SECRET = "s3cr3t-value"


@pytest.mark.parametrize(
    ("url", "logged"),
    [
        (
            f"/webhook/whatsapp?hub.mode=subscribe&hub.verify_token={SECRET}&hub.challenge=42",
            "/webhook/whatsapp?hub.mode=subscribe&hub.verify_token=***&hub.challenge=42",
        ),
        (f"/webchat?account=chat&visitor_token={SECRET}", "/webchat?account=chat&visitor_token=***"),
        (f"/webchat?hub%2Everify%5Ftoken={SECRET}", "/webchat?hub%2Everify%5Ftoken=***"),
        (
            f"/x?VISITOR_TOKEN={SECRET}&api_key={SECRET}&password={SECRET}",
            "/x?VISITOR_TOKEN=***&api_key=***&password=***",
        ),
        (f"/x?a=1;visitor_token={SECRET}", "/x?a=1;visitor_token=***"),
        (
            f"https://gk.example/chat/?visitor_token={SECRET}#top",
            "https://gk.example/chat/?visitor_token=***#top",
        ),
        ("/api/drafts/?status=pending&limit=5", "/api/drafts/?status=pending&limit=5"),
        ("/webchat?visitor_token", "/webchat?visitor_token"),
        ("/healthz", "/healthz"),
    ],
)
def test_secret_query_parameters_are_written_as_stars_and_the_rest_as_sent(url, logged):
    assert redact_url(url) == logged


def test_request_lines_and_bare_queries_are_redacted():
    assert redact_request_line(f"GET /webchat?visitor_token={SECRET} HTTP/1.1") == (
        "GET /webchat?visitor_token=*** HTTP/1.1"
    )
    assert redact_request_line(f"GET /webchat?visitor_token={SECRET}") == "GET /webchat?visitor_token=***"
    assert redact_query(f"account=chat&visitor_token={SECRET}") == "account=chat&visitor_token=***"


class _Response:
    status = "200 OK"
    sent = 2
    headers = [("Content-Type", "text/plain")]


def test_gunicorns_logger_redacts_every_atom_a_format_could_show(capsys):
    config = Config()
    config.set("accesslog", "-")
    config.set(
        "access_log_format",
        "%(r)s | %(q)s | %(f)s | %({x-visitor-token}i)s | %({authorization}i)s | %({raw_uri}e)s | %(U)s",
    )
    logger = GunicornLogger(config)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/webchat?account=chat&visitor_token={SECRET}",
        "PATH_INFO": "/webchat",
        "QUERY_STRING": f"account=chat&visitor_token={SECRET}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": f"https://gk.example/chat/?visitor_token={SECRET}",
    }
    headers = [("X-VISITOR-TOKEN", SECRET), ("AUTHORIZATION", f"Token {SECRET}")]
    logger.access(_Response(), headers, environ, datetime.timedelta(milliseconds=3))

    line = capsys.readouterr().out.strip()
    assert SECRET not in line
    assert line == (
        "GET /webchat?account=chat&visitor_token=*** HTTP/1.1 | account=chat&visitor_token=*** | "
        "https://gk.example/chat/?visitor_token=*** | *** | *** | /webchat?account=chat&visitor_token=*** | /webchat"
    )


def test_daphnes_action_logger_gets_the_path_redacted():
    entries = []
    log = redacting(lambda protocol, action, details: entries.append((protocol, action, details)))

    log("http", "complete", {"path": f"/webchat?visitor_token={SECRET}", "status": 200})
    log("websocket", "connected", {"path": "/ws/chat/chat/", "client": "127.0.0.1:5"})

    assert entries == [
        ("http", "complete", {"path": "/webchat?visitor_token=***", "status": 200}),
        ("websocket", "connected", {"path": "/ws/chat/chat/", "client": "127.0.0.1:5"}),
    ]
