"""daphne, with its access log redacted: `python -m gatekeeper_site.daphne_server <daphne's arguments>`.

daphne writes each request's full URI to its access log (stdout by default), query string and
all; this runs daphne's own command line with a server whose access log goes through
`gatekeeper_site.accesslog.redact_url` first. Every daphne option works as usual.
"""

from __future__ import annotations

from collections.abc import Callable

from daphne.cli import CommandLineInterface
from daphne.server import Server

from gatekeeper_site.accesslog import redact_url

ActionLogger = Callable[[str, str, dict], None]


def redacting(action_logger: ActionLogger) -> ActionLogger:
    """An action logger that passes on each entry with its path's secret parameters redacted."""

    def log(protocol: str, action: str, details: dict) -> None:
        if isinstance(details.get("path"), str):
            details = {**details, "path": redact_url(details["path"])}
        action_logger(protocol, action, details)

    return log


class RedactingServer(Server):
    """daphne's server; its access log never shows a secret query parameter."""

    def __init__(self, *args, action_logger: ActionLogger | None = None, **kwargs) -> None:
        super().__init__(*args, action_logger=redacting(action_logger) if action_logger else None, **kwargs)


class CommandLine(CommandLineInterface):
    server_class = RedactingServer


if __name__ == "__main__":
    CommandLine.entrypoint()
