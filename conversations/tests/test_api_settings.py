"""Owner settings, rules and facts over REST: `/user-settings/`, `/user-settings/rules/`, `/user-settings/facts/`."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations.models import ApprovalMode, Fact, OwnerSettings, Rule, RuleAction

pytestmark = pytest.mark.django_db


def inserts(queries: CaptureQueriesContext) -> list[str]:
    return [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].lstrip().upper().startswith("INSERT")
    ]


def test_reading_settings_shows_the_safe_defaults_and_stores_nothing(client_a, owner_a):
    with CaptureQueriesContext(connection) as queries:
        response = client_a.get("/user-settings/")

    assert response.status_code == 200
    assert response.json()["approval_mode"] == ApprovalMode.WHEN_UNSURE
    assert response.json()["confidence_threshold"] == 0.75
    assert set(response.json()) == {
        "approval_mode",
        "confidence_threshold",
        "persona",
        "notify_email",
        "notify_whatsapp",
        "notify_template",
        "notify_template_language",
        "digest_hour",
        "time_zone",
        "last_digest_at",
        "forward_calls_to",
    }
    assert inserts(queries) == [], "a GET never writes"
    assert not OwnerSettings.objects.filter(owner=owner_a).exists()


def test_the_first_change_stores_the_defaults_with_it(client_a, owner_a):
    response = client_a.patch("/user-settings/", {"persona": "Brief."}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["persona"] == "Brief."
    saved = OwnerSettings.objects.get(owner=owner_a)
    assert (saved.persona, saved.approval_mode) == ("Brief.", ApprovalMode.WHEN_UNSURE)
    assert client_a.get("/user-settings/").json()["persona"] == "Brief."


def test_settings_patch_changes_only_the_given_fields(client_a, owner_a):
    response = client_a.patch(
        "/user-settings/",
        {"approval_mode": "always", "confidence_threshold": 0.9, "notify_whatsapp": "+5511988887777"},
        format="json",
    )

    assert response.status_code == 200, response.content
    saved = OwnerSettings.objects.get(owner=owner_a)
    assert (saved.approval_mode, saved.confidence_threshold, saved.notify_whatsapp) == (
        "always",
        0.9,
        "+5511988887777",
    )
    assert saved.persona.startswith("Polite")


def test_settings_answer_without_a_trailing_slash(client_a):
    assert client_a.get("/user-settings").status_code == 200


@pytest.mark.parametrize("threshold", [-0.1, 1.5, "nan", "high"])
def test_settings_refuse_a_threshold_outside_zero_to_one(client_a, threshold):
    response = client_a.patch("/user-settings/", {"confidence_threshold": threshold}, format="json")

    assert response.status_code == 400
    assert "confidence_threshold" in response.json()


def test_settings_refuse_an_unknown_approval_mode(client_a):
    response = client_a.patch("/user-settings/", {"approval_mode": "sometimes"}, format="json")

    assert response.status_code == 400
    assert "approval_mode" in response.json()


def test_settings_set_the_digest_hour_and_time_zone(client_a, owner_a, settings):
    settings.TIME_ZONE = "UTC"
    first = client_a.get("/user-settings/").json()
    response = client_a.patch(
        "/user-settings/", {"digest_hour": 18, "time_zone": "America/Sao_Paulo"}, format="json"
    )
    off = client_a.patch("/user-settings/", {"digest_hour": None}, format="json")

    assert (first["digest_hour"], first["time_zone"]) == (8, "UTC")
    assert response.status_code == 200, response.content
    assert (response.json()["digest_hour"], response.json()["time_zone"]) == (18, "America/Sao_Paulo")
    assert off.status_code == 200 and off.json()["digest_hour"] is None
    saved = OwnerSettings.objects.get(owner=owner_a)
    assert (saved.digest_hour, saved.time_zone) == (None, "America/Sao_Paulo")


@pytest.mark.parametrize("hour", [-1, 24, 7.5, "noon"])
def test_settings_refuse_a_digest_hour_outside_0_to_23(client_a, owner_a, hour):
    response = client_a.patch("/user-settings/", {"digest_hour": hour}, format="json")

    assert response.status_code == 400
    assert response.json()["digest_hour"]
    assert client_a.get("/user-settings/").json()["digest_hour"] == 8


@pytest.mark.parametrize("zone", ["Mars/Olympus", "america/sao_paulo", "../../etc/passwd", "", "UTC+3"])
def test_settings_refuse_an_unknown_time_zone_with_a_reason(client_a, owner_a, zone):
    response = client_a.patch("/user-settings/", {"time_zone": zone}, format="json")

    assert response.status_code == 400
    assert response.json()["time_zone"]
    assert client_a.get("/user-settings/").json()["time_zone"] != zone


def test_settings_last_digest_at_is_read_only(client_a, owner_a):
    client_a.patch("/user-settings/", {"persona": "Brief."}, format="json")
    before = OwnerSettings.objects.get(owner=owner_a).last_digest_at

    client_a.patch("/user-settings/", {"last_digest_at": "2020-01-01T00:00:00Z"}, format="json")

    assert OwnerSettings.objects.get(owner=owner_a).last_digest_at == before


def test_settings_cannot_be_replaced_with_put(client_a):
    assert client_a.put("/user-settings/", {}, format="json").status_code == 405


def test_rule_crud_round_trip(client_a, owner_a):
    created = client_a.post(
        "/user-settings/rules/",
        {
            "category": "utilities",
            "action": "auto",
            "instructions": "Confirm meter readings only.",
            "match_senders": ["+5511300030003", "Light Co"],
            "match_keywords": ["meter", "kWh", "meter"],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    rule = created.json()
    assert set(rule) == {"id", "category", "action", "instructions", "match_senders", "match_keywords"}
    assert rule["match_keywords"] == ["meter", "kWh"], "repeated keywords are dropped"
    assert Rule.objects.get(pk=rule["id"]).owner == owner_a

    listed = client_a.get("/user-settings/rules/").json()
    assert [r["id"] for r in listed["results"]] == [rule["id"]]
    assert client_a.get(f"/user-settings/rules/{rule['id']}/").json() == rule

    patched = client_a.patch(f"/user-settings/rules/{rule['id']}", {"action": "draft"}, format="json")
    assert patched.status_code == 200
    assert Rule.objects.get(pk=rule["id"]).action == RuleAction.DRAFT

    assert client_a.delete(f"/user-settings/rules/{rule['id']}/").status_code == 204
    assert not Rule.objects.filter(pk=rule["id"]).exists()


def test_a_second_rule_for_the_same_category_is_a_clear_400(client_a, owner_a):
    Rule.objects.create(owner=owner_a, category="bank", action=RuleAction.ESCALATE)

    response = client_a.post("/user-settings/rules/", {"category": "bank", "action": "auto"}, format="json")

    assert response.status_code == 400
    assert "already have a rule" in response.json()["category"][0]
    assert Rule.objects.filter(owner=owner_a, category="bank").count() == 1


def test_renaming_a_rule_onto_an_existing_category_is_a_400(client_a, owner_a):
    Rule.objects.create(owner=owner_a, category="bank")
    spam = Rule.objects.create(owner=owner_a, category="spam")

    response = client_a.patch(f"/user-settings/rules/{spam.pk}/", {"category": "bank"}, format="json")

    assert response.status_code == 400
    assert "category" in response.json()


def test_another_owner_may_use_the_same_category(client_a, owner_b):
    Rule.objects.create(owner=owner_b, category="bank")

    response = client_a.post("/user-settings/rules/", {"category": "bank"}, format="json")

    assert response.status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"category": "bank", "match_senders": "not a list"},
        {"category": "bank", "match_keywords": [1, {"x": 2}]},
        {"category": "bank", "match_keywords": [""]},
        {"category": "two words"},
        {"category": "bank", "action": "send_everything"},
    ],
)
def test_rule_fields_are_validated(client_a, body):
    response = client_a.post("/user-settings/rules/", body, format="json")

    assert response.status_code == 400, response.content
    assert not Rule.objects.exists()


def test_fact_crud_round_trip(client_a, owner_a):
    created = client_a.post(
        "/user-settings/facts/",
        {"key": "customer_number", "value": "123-456", "private": False},
        format="json",
    )
    assert created.status_code == 201, created.content
    fact = created.json()
    assert fact == {
        "id": fact["id"],
        "key": "customer_number",
        "value": "123-456",
        "private": False,
        "share_with": [],
    }
    assert Fact.objects.get(pk=fact["id"]).owner == owner_a

    assert client_a.get("/user-settings/facts/").json()["results"] == [fact]
    assert client_a.get(f"/user-settings/facts/{fact['id']}").json() == fact
    patched = client_a.patch(f"/user-settings/facts/{fact['id']}/", {"private": True}, format="json")
    assert patched.json()["private"] is True
    assert client_a.delete(f"/user-settings/facts/{fact['id']}").status_code == 204
    assert not Fact.objects.exists()


def test_facts_are_private_unless_said_otherwise(client_a):
    response = client_a.post(
        "/user-settings/facts/", {"key": "cpf", "value": "123.456.789-00"}, format="json"
    )

    assert response.json()["private"] is True


def test_a_duplicate_fact_key_is_a_clear_400(client_a, owner_a):
    Fact.objects.create(owner=owner_a, key="address", value="Rua A, 1")

    response = client_a.post("/user-settings/facts/", {"key": "address", "value": "Rua B, 2"}, format="json")

    assert response.status_code == 400
    assert "already have a fact" in response.json()["key"][0]


def test_a_shareable_fact_can_be_limited_to_some_categories(client_a):
    created = client_a.post(
        "/user-settings/facts/",
        {
            "key": "customer_number",
            "value": "ACC-1",
            "private": False,
            "share_with": ["bank", "bank", "utilities"],
        },
        format="json",
    )

    assert created.status_code == 201, created.content
    assert created.json()["share_with"] == ["bank", "utilities"]


def test_sharing_a_private_fact_is_a_clear_400(client_a):
    response = client_a.post(
        "/user-settings/facts/", {"key": "pin", "value": "0000", "share_with": ["bank"]}, format="json"
    )

    assert response.status_code == 400
    assert "never shared" in response.json()["share_with"][0]
    assert not Fact.objects.exists()
