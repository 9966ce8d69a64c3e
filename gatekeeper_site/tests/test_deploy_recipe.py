"""deploy/: the systemd units and the Caddyfile run exactly the Procfile's processes, and restart them."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
#: The Procfile's processes and the unit that runs each.
UNITS = {
    "web": "gatekeeper-web.service",
    "ws": "gatekeeper-ws.service",
    "worker": "gatekeeper-worker@.service",
    "sweeper": "gatekeeper-sweeper.service",
}
INSTALL_DIR = "/opt/gatekeeper"


def procfile() -> dict[str, list[str]]:
    """Each Procfile process's command as words, with `${VAR:-default}` (and `${VAR-default}`) as the default."""
    commands = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, command = line.partition(":")
        command = re.sub(r"\$\{\w+:?-([^}]*)\}", r"\1", command)
        commands[name.strip()] = shlex.split(command)
    return commands


def unit(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read_string((DEPLOY / name).read_text())
    return parser["Service"]


def unit_command(service: configparser.SectionProxy) -> list[str]:
    """ExecStart as words, with each `${VAR}` replaced by the unit's own `Environment=` default."""
    defaults = dict(item.split("=", 1) for item in shlex.split(service.get("Environment", "")))
    command = re.sub(r"\$\{(\w+)\}", lambda match: defaults[match.group(1)], service["ExecStart"])
    words = shlex.split(command)
    executable = words[0]
    assert executable.startswith(f"{INSTALL_DIR}/.venv/bin/"), (
        "the project's own virtualenv, by absolute path"
    )
    return [Path(executable).name, *words[1:]]


@pytest.mark.parametrize("process", sorted(UNITS))
def test_each_procfile_process_has_a_unit_that_runs_its_command(process):
    service = unit(UNITS[process])

    assert unit_command(service) == procfile()[process]


def test_every_procfile_process_has_a_unit():
    assert set(procfile()) == set(UNITS)
    assert {path.name for path in DEPLOY.glob("*.service")} == set(UNITS.values())


@pytest.mark.parametrize("name", sorted(UNITS.values()))
def test_every_unit_restarts_always_as_its_own_user_with_the_env_file_and_hardening(name):
    service = unit(name)

    assert service["Restart"] == "always"
    assert service["User"] == "gatekeeper" and service["Group"] == "gatekeeper"
    assert service["WorkingDirectory"] == INSTALL_DIR
    assert service["EnvironmentFile"] == f"{INSTALL_DIR}/.env"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["ProtectHome"] == "yes"
    assert service["CapabilityBoundingSet"] == ""
    assert "PYTHONUNBUFFERED=1" in shlex.split(service["Environment"]), "log lines reach the journal at once"


def caddy_site() -> tuple[str, list[list[str]]]:
    """The Caddyfile's one site: its address and its directives as words (comments dropped)."""
    text = "\n".join(line.split("#", 1)[0] for line in (DEPLOY / "Caddyfile").read_text().splitlines())
    address, brace, body = text.strip().partition("{")
    assert brace and body.rstrip().endswith("}"), "one site block"
    return address.strip(), [line.split() for line in body.rstrip()[:-1].splitlines() if line.strip()]


def test_the_caddyfile_serves_one_https_site_and_routes_websockets_to_ws_and_the_rest_to_web():
    address, directives = caddy_site()
    proxies = [words[1:] for words in directives if words[0] == "reverse_proxy"]
    web_port = next(w for w in procfile()["web"] if w.startswith("127.0.0.1:")).rpartition(":")[2]
    ws_port = procfile()["ws"][procfile()["ws"].index("-p") + 1]

    # A bare domain: Caddy's automatic HTTPS gets the certificate and redirects http.
    assert re.fullmatch(r"[a-z0-9.-]+\.[a-z]+", address), address
    assert proxies == [["/ws/*", f"127.0.0.1:{ws_port}"], [f"127.0.0.1:{web_port}"]]
    assert procfile()["ws"][procfile()["ws"].index("-b") + 1] == "127.0.0.1"


@pytest.mark.skipif(shutil.which("caddy") is None, reason="needs caddy to adapt the Caddyfile")
def test_caddy_itself_reads_the_caddyfile():
    adapted = subprocess.run(
        ["caddy", "adapt", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert adapted.returncode == 0, adapted.stderr
    assert '"dial":"127.0.0.1:8001"' in adapted.stdout and '"dial":"127.0.0.1:8000"' in adapted.stdout
