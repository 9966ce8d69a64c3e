from django.conf import settings
from django.core.management.base import BaseCommand

from conversations.setup import configured_accounts, owner_setup


class Command(BaseCommand):
    help = "Create or update the owner, default rules and channel accounts (idempotent). Last line: token: <key>."

    def add_arguments(self, parser):
        parser.add_argument("--username", default=settings.GATEKEEPER_OWNER)
        parser.add_argument("--password", default=settings.GATEKEEPER_PASSWORD or None)
        parser.add_argument("--email", default="")

    def handle(self, *args, username, password, email, **options):
        result = owner_setup(
            username=username, password=password, email=email, accounts=configured_accounts()
        )
        self.stdout.write(f"owner: {result.owner.username} ({'created' if result.created else 'updated'})")
        if result.password:
            self.stdout.write(f"password: {result.password}")
        else:
            self.stdout.write("password: unchanged (set GATEKEEPER_PASSWORD or pass --password to change it)")
        for account in result.accounts:
            self.stdout.write(f"channel: {account.get_provider_display()} {account.address}")
        self.stdout.write(f"token: {result.token}")
