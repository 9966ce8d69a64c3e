"""Every recorded provider payload (both fixtures folders, whoever added it) posted signed, as the
provider would: none may be acknowledged and dropped. Each one stores a row (a message, or a
receipt kept for its message), applies a status, or leaves a log line that says why not."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from channels_app.twilio.addresses import e164
from channels_app.twilio.tests import helpers as twilio
from channels_app.whatsapp.tests import helpers as meta
from conversations.models import ChannelAccount, EarlyStatus, Message, User

pytestmark = pytest.mark.django_db

APPS = Path(__file__).resolve().parent.parent
#: Where each provider's recorded payloads live (a `tests/fixtures` folder counts too, if one appears).
FOLDERS = {
    "whatsapp": [APPS / "whatsapp" / "fixtures", APPS / "whatsapp" / "tests" / "fixtures"],
    "twilio": [APPS / "twilio" / "fixtures", APPS / "twilio" / "tests" / "fixtures"],
}
#: What a log line says when a piece of a delivery is deliberately not stored.
EXPLAINED = ("skipped", "ignored", "reported error", "kept until", "not stored")


def recorded(provider: str) -> list[Path]:
    return sorted(path for folder in FOLDERS[provider] if folder.is_dir() for path in folder.glob("*.json"))


CASES = [
    pytest.param(provider, path, id=f"{provider}-{path.stem}")
    for provider in FOLDERS
    for path in recorded(provider)
]


@pytest.fixture
def owner_of_every_account(settings):
    settings.TWILIO_ACCOUNT_SID = twilio.ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = twilio.AUTH_TOKEN
    settings.TWILIO_WEBHOOK_SIGNING_KEY = ""
    settings.PUBLIC_BASE_URL = twilio.PUBLIC_BASE_URL
    return User.objects.create_user(username="owner", password="x")


def _link_accounts(owner: User, provider: str, path: Path, payload: dict) -> None:
    """The owner has every number the payload is addressed to, so nothing is 'for someone else'."""
    if provider == "whatsapp":
        ids = {
            change.get("value", {}).get("metadata", {}).get("phone_number_id")
            for entry in payload.get("entry", [])
            for change in entry.get("changes", [])
            if isinstance(change, dict) and isinstance(change.get("value"), dict)
        }
    else:
        ids = {e164(payload.get("From" if path.stem.startswith("status_") else "To", ""))}
    for address in ids - {None, ""}:
        ChannelAccount.objects.get_or_create(provider=provider, address=address, defaults={"owner": owner})


def _post(client, provider: str, path: Path, payload: dict):
    if provider == "whatsapp":
        return meta.post_signed(client, path.read_bytes())
    route = twilio.STATUS_PATH if path.stem.startswith("status_") else twilio.INBOUND_PATH
    return twilio.post_signed(client, route, payload)


def _message_ids(provider: str, path: Path, payload: dict) -> set[str]:
    """The ids of the messages a payload carries (with an id and a sender, WhatsApp's or Twilio's)."""
    if provider == "twilio":
        inbound = not path.stem.startswith("status_") and payload.get("From", "").startswith("whatsapp:")
        return {payload["MessageSid"]} if inbound else set()
    ids = set()
    for entry in payload.get("entry", []):
        for change in entry.get("changes", []):
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict) or change.get("field") not in ("messages", "smb_message_echoes"):
                continue
            for item in (value.get("messages") or []) + (value.get("message_echoes") or []):
                sender = (
                    item.get("from") or item.get("from_user_id") or item.get("to") or item.get("to_user_id")
                )
                if item.get("id") and sender:
                    ids.add(item["id"])
    return ids


def _state() -> tuple:
    return (
        Message.objects.count(),
        EarlyStatus.objects.count(),
        sorted(Message.objects.values_list("pk", "status", "text", "revoked_at", "edited_at")),
    )


@pytest.mark.parametrize(("provider", "path"), CASES)
def test_no_recorded_payload_is_acknowledged_and_dropped(
    client, caplog, owner_of_every_account, provider, path
):
    payload = json.loads(path.read_text())
    _link_accounts(owner_of_every_account, provider, path, payload)
    before = _state()

    with caplog.at_level(logging.INFO):
        response = _post(client, provider, path, payload)

    assert response.status_code == 200, response.content
    # A contact's message (or the owner's echo) is never only explained away: it is stored.
    stored = set(Message.objects.values_list("provider_message_id", flat=True))
    assert _message_ids(provider, path, payload) <= stored
    if _state() != before:
        return  # a stored row, an applied status, or a message changed by an edit or revoke
    explained = [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(("channels_app", "conversations"))
        and any(word in record.getMessage() for word in EXPLAINED)
    ]
    assert explained, f"{path.name} was acknowledged and nothing was stored or explained"


def test_every_shape_of_issue_13_has_a_recorded_payload():
    names = {path.stem for provider in FOLDERS for path in recorded(provider)}
    assert {
        "echo_text",
        "edit_text",
        "edit_image_caption",
        "revoke",
        "message_error_131000",
        "order",
        "flow_reply",
        "request_welcome",
        "status_undelivered_no_from",
        "status_read_no_from",
    } <= names
