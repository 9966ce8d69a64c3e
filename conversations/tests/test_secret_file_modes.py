"""Files holding secrets are readable by their owner only: `.env` and the SQLite database 0600, `var/` 0700,
whatever the umask, and an older install's world-readable ones are tightened."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from conversations.files import protect_env_file
from conversations.tests.servers import ROOT, clean_env


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def shell(command: str, *, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`command` under the usual umask 022, which leaves new files readable by everyone."""
    return subprocess.run(
        ["sh", "-c", f"umask 022 && {command}"],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_make_writes_env_readable_by_its_owner_only(tmp_path):
    made = shell(f"make -s -f {ROOT / 'Makefile'} .env PYTHON={sys.executable}", cwd=tmp_path)

    assert made.returncode == 0, made.stderr
    env_file = tmp_path / ".env"
    assert mode(env_file) == 0o600
    assert "GATEKEEPER_PASSWORD=" in env_file.read_text()


def test_make_run_creates_var_private():
    recipe = subprocess.run(
        ["make", "-n", "-f", str(ROOT / "Makefile"), "run", "VENV=/nonexistent"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout

    assert "mkdir -p -m 700 var" in recipe
    assert "umask 077 && /nonexistent/bin/python manage.py migrate" in recipe


def test_a_new_database_and_an_existing_var_folder_are_made_private(tmp_path):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)  # as an older `make run` left it
    var.chmod(0o755)
    env = clean_env(
        DJANGO_SETTINGS_MODULE="gatekeeper_site.settings",
        SECRET_KEY="file-modes-test-secret",
        GATEKEEPER_VAR_DIR=str(var),
    )

    migrated = shell(f"{sys.executable} manage.py migrate --noinput", cwd=ROOT, env=env)

    assert migrated.returncode == 0, migrated.stderr
    database = var / "gatekeeper.sqlite3"
    assert mode(var) == 0o700
    assert mode(database) == 0o600
    for companion in ("-wal", "-shm"):
        path = var / f"gatekeeper.sqlite3{companion}"
        if path.exists():
            assert mode(path) == 0o600, companion


def test_an_older_world_readable_database_is_made_private_when_next_opened(tmp_path):
    var = tmp_path / "var"
    var.mkdir()
    env = clean_env(
        DJANGO_SETTINGS_MODULE="gatekeeper_site.settings",
        SECRET_KEY="file-modes-test-secret",
        GATEKEEPER_VAR_DIR=str(var),
    )
    assert shell(f"{sys.executable} manage.py migrate --noinput", cwd=ROOT, env=env).returncode == 0
    database = var / "gatekeeper.sqlite3"
    database.chmod(0o644)
    var.chmod(0o755)

    setup = shell(f"{sys.executable} manage.py gatekeeper_setup --no-channels", cwd=ROOT, env=env)

    assert setup.returncode == 0, setup.stderr
    assert (mode(database), mode(var)) == (0o600, 0o700)


def test_serve_makes_an_older_world_readable_env_private(tmp_path, settings):
    settings.BASE_DIR = tmp_path
    env_file = tmp_path / ".env"
    env_file.write_text("SECRET_KEY=x\n")
    env_file.chmod(0o644)

    protect_env_file()

    assert mode(env_file) == 0o600


def test_a_database_elsewhere_never_changes_its_folder(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    env = clean_env(
        DJANGO_SETTINGS_MODULE="gatekeeper_site.settings",
        SECRET_KEY="file-modes-test-secret",
        GATEKEEPER_VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL=f"sqlite:///{shared / 'elsewhere.sqlite3'}",
    )

    migrated = shell(f"{sys.executable} manage.py migrate --noinput", cwd=ROOT, env=env)

    assert migrated.returncode == 0, migrated.stderr
    assert mode(shared / "elsewhere.sqlite3") == 0o600
    assert mode(shared) == 0o755
