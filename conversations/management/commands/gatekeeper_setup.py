from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from conversations.setup import (
    ChannelTaken,
    chosen_accounts,
    configured_accounts,
    owner_setup,
    password_shown,
    token_shown,
)


class Command(BaseCommand):
    help = (
        "Create or update an owner: staff with an owner's permissions (never a superuser), default rules, "
        "API token and channel accounts; idempotent. Channels: those the environment names, or only those "
        "given with --whatsapp/--twilio/--webchat; one that belongs to another owner is an error unless "
        "--move-channels. The password is set when the owner is created (GATEKEEPER_PASSWORD for "
        "GATEKEEPER_OWNER, else generated and shown once) or when --password is given. When the token is "
        "new, the last line is `token: <key>`."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default=settings.GATEKEEPER_OWNER)
        parser.add_argument(
            "--password", default=None, help="Set this password, also for an existing owner (explicit only)."
        )
        parser.add_argument("--email", default="")
        parser.add_argument("--whatsapp", default="", metavar="PHONE_NUMBER_ID", help="Meta number to link.")
        parser.add_argument("--twilio", default="", metavar="NUMBER", help="Twilio WhatsApp sender to link.")
        parser.add_argument("--webchat", default="", metavar="SLUG", help="Web-chat page to link.")
        parser.add_argument("--voice", default="", metavar="NUMBER", help="Twilio voice number (calls).")
        parser.add_argument("--no-channels", action="store_true", help="Link no channel account.")
        parser.add_argument(
            "--move-channels",
            action="store_true",
            help="Move channel accounts that belong to another owner to this one (their new conversations "
            "then go to this owner; the old ones stay with the previous owner).",
        )

    def handle(self, *args, username, password, email, **options):
        chosen = chosen_accounts(
            whatsapp=options["whatsapp"],
            twilio=options["twilio"],
            webchat=options["webchat"],
            voice=options["voice"],
        )
        accounts = {} if options["no_channels"] else chosen or configured_accounts()
        initial = settings.GATEKEEPER_PASSWORD if username == settings.GATEKEEPER_OWNER else ""
        try:
            result = owner_setup(
                username=username,
                password=password,
                initial_password=initial or None,
                email=email,
                accounts=accounts,
                move_channels=options["move_channels"],
            )
        except ChannelTaken as taken:
            raise CommandError(
                f"{taken}. Nothing changed. Give {username} channels of their own (--whatsapp, --twilio, "
                f"--webchat, or --no-channels), or add --move-channels to move them to {username}."
            ) from taken
        self.stdout.write(f"owner: {result.owner.username} ({'created' if result.created else 'updated'})")
        if result.demoted:
            self.stdout.write(
                f"owner: {username} was a superuser and is now staff with an owner's permissions; "
                "create an operator with `manage.py createsuperuser`"
            )
        self.stdout.write(f"password: {password_shown(result)}")
        for account in result.accounts:
            self.stdout.write(f"channel: {account.get_provider_display()} {account.address}")
        if result.token_created:
            self.stdout.write(f"token: {result.token}")
        else:
            self.stdout.write(f"API token: {token_shown(result)}")
