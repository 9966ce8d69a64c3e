"""Every environment variable settings.py reads has a row in the README's Configuration table."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: `env("NAME"`, `env.int("NAME"`, `env.list(\n    "NAME"`, ...: how settings.py reads the environment.
READ = re.compile(r"\benv(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"")
#: A row of the README's table starts with the variable's name in backticks.
ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]*)` \|", re.MULTILINE)


def variables_read() -> set[str]:
    return set(READ.findall((ROOT / "gatekeeper_site" / "settings.py").read_text(encoding="utf-8")))


def configuration_table() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(ROW.findall(section))


def test_the_scan_finds_the_variables_settings_read_on_one_line_and_over_several():
    found = variables_read()
    assert {"DATABASE_URL", "SECRET_KEY", "GATEKEEPER_JOBS_BACKEND", "AI_ENGINE", "EMAIL_URL"} <= found


def test_every_environment_variable_in_settings_is_in_the_readme_table():
    assert sorted(variables_read() - configuration_table()) == []


def test_the_readme_table_documents_no_variable_that_settings_do_not_read():
    assert sorted(configuration_table() - variables_read()) == []
