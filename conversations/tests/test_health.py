"""`GET /healthz`: 200 when the database and the queue answer, 503 naming the one that does not."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection

pytestmark = pytest.mark.django_db


def _use_rq(settings, url: str) -> None:
    settings.RQ_QUEUES = {"health": {"URL": url, "DEFAULT_TIMEOUT": 5}}
    settings.GATEKEEPER_JOBS = {"BACKEND": "conversations.jobs.RQBackend", "OPTIONS": {"queue": "health"}}


def test_healthz_reports_in_process_jobs_without_login(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "queue": "in-process"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_answers_with_a_trailing_slash_too(client):
    assert client.get("/healthz/").status_code == 200


def test_healthz_reports_a_reachable_redis_queue_as_ok(client, settings, redis_url):
    _use_rq(settings, redis_url)

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "queue": "ok"}


def test_healthz_is_503_when_redis_is_unreachable(client, settings):
    _use_rq(settings, "redis://127.0.0.1:1/0")

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"database": "ok", "queue": "unavailable"}


def test_healthz_is_503_when_the_job_backend_cannot_be_loaded(client, settings):
    settings.GATEKEEPER_JOBS = {"BACKEND": "conversations.jobs.NoSuchBackend", "OPTIONS": {}}

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["queue"] == "unavailable"


def test_healthz_is_503_when_the_database_fails(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection to server at 127.0.0.1, port 5432 failed: Connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(connection, "cursor", refuse)
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"database": "unavailable", "queue": "in-process"}


def test_healthz_refuses_writes(client):
    assert client.post("/healthz").status_code == 405
