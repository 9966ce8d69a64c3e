import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from channels_app.whatsapp.signature import sign
from channels_app.whatsapp_payloads import encode, text_message_payload
from conversations.models import ChannelAccount, Provider


class Command(BaseCommand):
    help = (
        "Send a message to the running server as a provider would: a signed Meta webhook POST "
        "to /webhook/whatsapp. For demos: watch the draft appear in /admin/."
    )

    def add_arguments(self, parser):
        parser.add_argument("text", help="What the provider writes, e.g. 'Your bill is ready'.")
        parser.add_argument("--from", dest="sender", default="15550001111", help="Sender's WhatsApp number.")
        parser.add_argument("--name", default="Acme Mobile", help="Sender's WhatsApp profile name.")
        parser.add_argument("--phone-number-id", default="", help="Your business number's phone_number_id.")
        parser.add_argument("--url", default="", help="Server base URL (default: PUBLIC_BASE_URL).")

    def handle(self, *args, text, sender, name, phone_number_id, url, **options):
        if not settings.WHATSAPP_APP_SECRET:
            raise CommandError("WHATSAPP_APP_SECRET is not set: the server would refuse the webhook.")
        if not phone_number_id:
            account = ChannelAccount.objects.filter(provider=Provider.WHATSAPP).order_by("id").first()
            if account is None:
                raise CommandError("No WhatsApp channel account: run `manage.py gatekeeper_setup` first.")
            phone_number_id = account.address
        body = encode(
            text_message_payload(phone_number_id=phone_number_id, sender=sender, name=name, text=text)
        )
        target = f"{(url or settings.PUBLIC_BASE_URL).rstrip('/')}/webhook/whatsapp"
        try:
            response = httpx.post(
                target,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Hub-Signature-256": sign(body, settings.WHATSAPP_APP_SECRET),
                },
                timeout=10,
            )
        except httpx.HTTPError as exc:
            raise CommandError(
                f"Could not reach {target}: {exc}. Is the server running (`make run`)?"
            ) from exc
        self.stdout.write(f"POST {target} -> {response.status_code} {response.text[:200]}")
        if response.status_code != 200:
            raise CommandError("The server refused the webhook.")
        base = (url or settings.PUBLIC_BASE_URL).rstrip("/")
        self.stdout.write(
            f"Sent as {name} (+{sender}). Drafts waiting for you: {base}/admin/conversations/draft/"
        )
