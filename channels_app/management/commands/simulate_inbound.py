"""`simulate_inbound`: send a message to the running server exactly as Meta or Twilio would deliver it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from channels_app.twilio.payloads import TEST_ACCOUNT_SID, inbound_text_params
from channels_app.twilio.signature import SIGNATURE_HEADER, sign
from channels_app.twilio.voice.simulate import TWILIO_VOICE, simulate_call
from channels_app.whatsapp.signature import sign as sign_meta
from channels_app.whatsapp_payloads import encode, text_message_payload
from conversations.models import ChannelAccount, Provider
from conversations.phones import e164


class Command(BaseCommand):
    help = (
        "Send a message to the running server as a provider would, through the real webhook: a signed "
        "Meta POST to /webhook/whatsapp (default), or with --provider twilio a signed Twilio form to "
        "/webhook/twilio. For demos: watch the draft appear in /admin/."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("text", help="What the provider writes, e.g. 'Your bill is ready'.")
        parser.add_argument(
            "--provider",
            choices=[Provider.WHATSAPP, Provider.TWILIO, TWILIO_VOICE],
            default=Provider.WHATSAPP,
            help="Whose webhook to imitate: Meta's Cloud API (whatsapp), Twilio (twilio), or a phone call "
            "through Twilio Voice (twilio-voice: the call rings, the text is said, the caller hangs up).",
        )
        parser.add_argument("--from", dest="sender", default="15550001111", help="Sender's WhatsApp number.")
        parser.add_argument("--name", default="Acme Mobile", help="Sender's WhatsApp profile name.")
        parser.add_argument(
            "--phone-number-id", default="", help="Meta: your business number's phone_number_id."
        )
        parser.add_argument(
            "--to",
            default="",
            help="Twilio: your Twilio WhatsApp number, or voice number for a call (+E.164).",
        )
        parser.add_argument("--url", default="", help="Server base URL (default: PUBLIC_BASE_URL).")

    def handle(
        self, *args: Any, text: str, provider: str, sender: str, name: str, url: str, **options: Any
    ) -> None:
        if not text.strip():
            raise CommandError(
                'The message text is empty: give what the company writes, e.g. simulate_inbound "Your bill is ready".'
            )
        base = (url or settings.PUBLIC_BASE_URL).rstrip("/")
        if provider == TWILIO_VOICE:
            simulate_call(self.stdout, base, text=text, caller=sender, name=name, to=options["to"])
            return
        if provider == Provider.TWILIO:
            target, content, headers = self._twilio(
                base, text=text, sender=sender, name=name, to=options["to"]
            )
        else:
            target, content, headers = self._meta(
                base, text=text, sender=sender, name=name, phone_number_id=options["phone_number_id"]
            )
        try:
            response = httpx.post(target, content=content, headers=headers, timeout=10)
        except httpx.HTTPError as exc:
            raise CommandError(
                f"Could not reach {target}: {exc}. Is the server running (`make run`)?"
            ) from exc
        self.stdout.write(f"POST {target} -> {response.status_code} {response.text[:200]}")
        if response.status_code != 200:
            raise CommandError("The server refused the webhook.")
        self.stdout.write(
            f"Sent as {name} (+{sender.lstrip('+')}). Drafts waiting for you: {base}/admin/conversations/draft/"
        )

    def _meta(
        self, base: str, *, text: str, sender: str, name: str, phone_number_id: str
    ) -> tuple[str, bytes, dict[str, str]]:
        """A signed Meta delivery of one text message."""
        if not settings.WHATSAPP_APP_SECRET:
            raise CommandError("WHATSAPP_APP_SECRET is not set: the server would refuse the webhook.")
        phone_number_id = phone_number_id or _first_address(Provider.WHATSAPP, "--phone-number-id")
        body = encode(
            text_message_payload(phone_number_id=phone_number_id, sender=sender, name=name, text=text)
        )
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign_meta(body, settings.WHATSAPP_APP_SECRET),
        }
        return f"{base}/webhook/whatsapp", body, headers

    def _twilio(
        self, base: str, *, text: str, sender: str, name: str, to: str
    ) -> tuple[str, bytes, dict[str, str]]:
        """A Twilio form for one WhatsApp text, signed for the exact URL it is posted to."""
        if not settings.TWILIO_AUTH_TOKEN:
            raise CommandError("TWILIO_AUTH_TOKEN is not set: the server would refuse the webhook.")
        number = e164(to) if to else _first_address(Provider.TWILIO, "--to")
        params = inbound_text_params(
            to=number,
            sender=sender,
            text=text,
            name=name,
            account_sid=settings.TWILIO_ACCOUNT_SID or TEST_ACCOUNT_SID,
        )
        target = f"{base}/webhook/twilio"
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            SIGNATURE_HEADER: sign(target, params, settings.TWILIO_AUTH_TOKEN),
        }
        return target, urlencode(params).encode(), headers


def _first_address(provider: str, option: str) -> str:
    """The address of the first channel account of that provider, as `gatekeeper_setup` linked it."""
    account = ChannelAccount.objects.filter(provider=provider).order_by("id").first()
    if account is None:
        raise CommandError(
            f"No {Provider(provider).label} channel account: run `manage.py gatekeeper_setup` "
            f"first (or pass {option})."
        )
    return account.address
