"""A developer's `.env` configures `make run`, never the test suite.

A `.env` with `AI_PROVIDER=openai` once failed two pipeline tests on a developer's machine and
passed in CI (which has none). Each case starts a child process with one settings module and a
`.env` of the test's own (GATEKEEPER_ENV_FILE), and reads the settings it ends up with.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOW = (
    "import json; from django.conf import settings; "
    "print(json.dumps([settings.AI_ENGINE, settings.REPLY_BURST_SECONDS, settings.SECRET_KEY]))"
)
DOTENV = "AI_PROVIDER=openai\nAI_ENGINE=openai\nREPLY_BURST_SECONDS=9\nSECRET_KEY=from-the-dotenv-file\n"


def settings_with_dotenv(module: str, tmp_path: Path) -> list:
    dotenv = tmp_path / ".env"
    dotenv.write_text(DOTENV)
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": module,
        "GATEKEEPER_ENV_FILE": str(dotenv),
        "GATEKEEPER_VAR_DIR": str(tmp_path / "var"),
    }
    shown = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SHOW],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(shown.stdout.strip().splitlines()[-1])


def test_the_test_settings_ignore_a_dotenv_file(tmp_path):
    engine, burst, secret_key = settings_with_dotenv("gatekeeper_site.test_settings", tmp_path)

    assert engine == "rules"
    assert burst == 0.0
    assert secret_key != "from-the-dotenv-file"


def test_the_production_settings_read_it(tmp_path):
    engine, burst, secret_key = settings_with_dotenv("gatekeeper_site.settings", tmp_path)

    assert (engine, burst, secret_key) == ("openai", 9.0, "from-the-dotenv-file")
