"""`make run`: set the owner up, then serve HTTP + WebSocket, and the workers when Redis is configured."""

import errno
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from conversations.files import protect_env_file
from conversations.providers import get_provider
from conversations.setup import SetupResult, password_shown, startup_setup, token_shown

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
    {simulate}
  then open {base}/admin/conversations/draft/ to approve the draft.
  Or open the chat page above, write as a company would, and watch the reply arrive live.
"""

#: The port `make run` serves on when PORT is not set (the Makefile's and the settings' default).
DEFAULT_PORT = 8000

#: The demo message the banner suggests sending.
DEMO_TEXT = "Your bill is ready"

#: The WhatsApp providers in the banner: its label, the name of the real service, what to set.
SENDERS = (
    ("whatsapp", "WhatsApp sending", "Meta Cloud API", "WHATSAPP_API_TOKEN"),
    ("twilio", "Twilio sending", "Twilio", "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"),
)


def sending_lines() -> str:
    """One banner line per WhatsApp provider; one without credentials says its replies are only printed."""
    lines = []
    for alias, label, service, needs in SENDERS:
        if alias not in settings.CHANNEL_PROVIDERS:
            continue
        if get_provider(alias).prints:
            shown = f"not configured: replies are printed here, not sent (set {needs})"
        else:
            shown = service
        lines.append(f"  {label:<17} {shown}")
    return "\n".join(lines)


def simulate_hint(port: int) -> str:
    """The command that delivers a demo message to this server from a fresh terminal.

    `simulate_inbound` posts to PUBLIC_BASE_URL, which follows PORT unless set: a custom port
    is spelled out so the copied line reaches this server, not the default port.
    """
    command = f'.venv/bin/python manage.py simulate_inbound "{DEMO_TEXT}"'
    return command if port == DEFAULT_PORT else f"PORT={port} {command}"


def banner(result: SetupResult, *, port: int) -> str:
    """What `make run` prints once the server is about to start."""
    return BANNER.format(
        base=settings.PUBLIC_BASE_URL,
        chat=f"{settings.PUBLIC_BASE_URL}{reverse('webchat-page', args=[settings.WEBCHAT_SLUG])}",
        username=result.owner.username,
        password=password_shown(result),
        token=token_shown(result),
        jobs="RQ on Redis" if settings.REDIS_URL else "in process (set REDIS_URL for RQ workers)",
        engine=settings.AI_ENGINE,
        sending=sending_lines(),
        simulate=simulate_hint(port),
    )


def refuse_busy_port(bind: str, port: int) -> None:
    """Stop before anything starts when another process already listens where the server would."""
    family, kind, proto, _, address = socket.getaddrinfo(bind, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as probe:
        # As daphne binds: a port left in TIME_WAIT by the last run is free, a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise CommandError(f"Cannot listen on {bind}:{port}: {exc.strerror}.") from exc
            raise CommandError(
                f"port {port} is in use — is Gatekeeper already running? "
                f"Set PORT=<another port> to use another (e.g. PORT={port + 1} make run)."
            ) from exc


class Command(BaseCommand):
    help = "Set up the owner and serve the whole product (daphne; RQ worker and sweeper with REDIS_URL)."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("BIND", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=settings.PORT)

    def handle(self, *args, bind, port, **options):
        refuse_busy_port(bind, port)
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
        self.stdout.write(banner(result, port=port))
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
