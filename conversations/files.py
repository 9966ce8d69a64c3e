"""Files that hold secrets are readable by their owner only: `.env` and the SQLite database 0600, `var/` 0700.

`make run` creates them so (`umask 077`); these tighten what an older install or another tool
created: the database on every new connection (so `migrate` on a fresh clone leaves it private),
`.env` when `manage.py serve` starts.
"""

from __future__ import annotations

import logging
import stat
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
#: The files SQLite keeps beside a database, holding the same rows.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def make_private(path: Path, mode: int) -> None:
    """Give `path` the `mode` if group or others may reach it; nothing if it does not exist."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & 0o077:
            path.chmod(mode)
    except FileNotFoundError:
        return
    except OSError as error:  # not ours to change: say so rather than fail the request
        logger.warning("could not make %s private: %s", path, error)


def protect_env_file() -> None:
    """`.env` (secret key, app secret, the first password) readable by its owner only."""
    make_private(Path(settings.BASE_DIR) / ".env", PRIVATE_FILE)


def sqlite_path(connection: Any) -> Path | None:
    """The database file of a SQLite connection; None for another database or one in memory."""
    if connection.vendor != "sqlite":
        return None
    name = str(connection.settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def protect_sqlite(sender: Any, connection: Any, **kwargs: Any) -> None:
    """On each new connection (`connection_created`): the SQLite file and its companions 0600, and
    their folder 0700 when it is Gatekeeper's own `var/` (never a folder someone else chose)."""
    database = sqlite_path(connection)
    if database is None:
        return
    for path in (database, *(database.with_name(database.name + suffix) for suffix in SQLITE_COMPANIONS)):
        make_private(path, PRIVATE_FILE)
    if database.parent.resolve() == Path(settings.VAR_DIR).resolve():
        make_private(database.parent, PRIVATE_DIR)
