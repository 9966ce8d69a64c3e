"""`make run`: set the owner up, then serve HTTP + WebSocket, and the workers when Redis is configured."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.urls import reverse

from conversations.files import protect_env_file
from conversations.providers import get_provider
from conversations.setup import password_shown, startup_setup, token_shown

BANNER = """
  Gatekeeper is running on {base}

  Review dashboard  {base}/admin/
  Chat page         {chat}
  Log in as         {username}, password: {password}
  API token         {token}
  Jobs              {jobs}
  AI engine         {engine}
{sending}

  Try it: in another terminal run
    .venv/bin/python manage.py simulate_inbound "Your bill is ready"
  then open {base}/admin/conversations/draft/ to approve the draft.
  Or open the chat page above, write as a company would, and watch the reply arrive live.
"""

#: The WhatsApp providers in the banner: its label, the name of the real service, what to set.
SENDERS = (
    ("whatsapp", "WhatsApp sending", "Meta Cloud API", "WHATSAPP_API_TOKEN"),
    ("twilio", "Twilio sending", "Twilio", "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"),
)


def sending_lines() -> str:
    """One banner line per WhatsApp provider; one without credentials says its replies are only printed."""
    lines = []
    for alias, label, service, needs in SENDERS:
        if alias not in settings.GATEKEEPER_PROVIDERS:
            continue
        if get_provider(alias).prints:
            shown = f"not configured: replies are printed here, not sent (set {needs})"
        else:
            shown = service
        lines.append(f"  {label:<17} {shown}")
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Set up the owner and serve the whole product (daphne; RQ worker and sweeper with REDIS_URL)."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("BIND", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=settings.PORT)

    def handle(self, *args, bind, port, **options):
        call_command("collectstatic", interactive=False, verbosity=0)
        protect_env_file()
        result = startup_setup(warn=self.stderr.write)
        python = sys.executable
        # daphne with its access log redacted (secret query parameters as ***): gatekeeper_site.accesslog.
        daphne = [python, "-m", "gatekeeper_site.daphne_server"]
        commands = [[*daphne, "-b", bind, "-p", str(port), "gatekeeper_site.asgi:application"]]
        if settings.REDIS_URL:
            commands.append(
                [
                    python,
                    "manage.py",
                    "rqworker",
                    "--with-scheduler",
                    "--worker-class",
                    "rq.worker.SimpleWorker",
                    settings.RQ_QUEUE,
                ]
            )
            commands.append([python, "manage.py", "sweep_stalled", "--every", "15"])
        self.stdout.write(
            BANNER.format(
                base=settings.PUBLIC_BASE_URL,
                chat=f"{settings.PUBLIC_BASE_URL}{reverse('webchat-page', args=[settings.WEBCHAT_SLUG])}",
                username=result.owner.username,
                password=password_shown(result),
                token=token_shown(result),
                jobs="RQ on Redis" if settings.REDIS_URL else "in process (set REDIS_URL for RQ workers)",
                engine=settings.AI_ENGINE,
                sending=sending_lines(),
            )
        )
        self.stdout.flush()
        children = [subprocess.Popen(command) for command in commands]  # noqa: S603
        stop = False

        def _stop(signum, frame):
            nonlocal stop
            stop = True

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        while not stop and all(child.poll() is None for child in children):
            time.sleep(0.5)
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            child.wait(timeout=15)
        sys.exit(max(child.returncode or 0 for child in children) if not stop else 0)
