"""Running wrk (Debian's package, installed with apt-get when missing) and returning its figures.

wrk is a C load generator with one event loop per thread: it costs the server far less CPU than
a Python client sharing the same cores, which is why `make bench` uses it for every figure
of requests per second and ack latency. A run is closed loop (each connection sends its next
request as soon as the last one is answered) unless a rate is given (bench/wrk_lua.py's pacing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench import wrk_lua, wrk_output

#: One wrk thread per core of this 2-core machine; the server gets the same cores.
THREADS = 2
#: Answers later than this are counted as timeouts by wrk, not as latencies.
TIMEOUT_S = 10


def ensure_installed() -> str:
    """The wrk executable; installs Debian's `wrk` package first if the machine lacks it."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "-n", "apt-get"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*apt, "update", "-qq"], check=True, env=env)  # noqa: S603
    subprocess.run([*apt, "install", "-y", "-qq", "wrk"], check=True, env=env)  # noqa: S603
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("apt-get installed wrk but it is not on PATH")
    return found


@dataclass(frozen=True)
class Load:
    """One wrk run against a loopback URL."""

    url: str
    duration: float
    connections: int
    threads: int = THREADS
    bodies: Path | None = None  # a file of bench.wrk_lua.write_bodies; None: plain GETs of `url`
    rate: float = 0.0  # requests/s offered by all threads together; 0: closed loop

    def command(self, wrk: str, script: Path | None) -> list[str]:
        """The wrk command line."""
        command = [wrk, "--latency", "--timeout", f"{TIMEOUT_S}s"]
        command += [
            "-t",
            str(self.threads),
            "-c",
            str(self.connections),
            "-d",
            f"{max(1, round(self.duration))}s",
        ]
        if script is not None:
            command += ["-s", str(script)]
        return [*command, self.url]


def run(load: Load, *, scratch: Path) -> dict:
    """Run wrk once (its Lua script written to `scratch`); its figures (bench.wrk_output.parse)."""
    if not load.url.startswith(("http://127.", "http://localhost")):
        raise ValueError("wrk is only pointed at loopback here")
    if load.connections < load.threads:
        raise ValueError("wrk needs at least one connection per thread")
    wrk = ensure_installed()
    script_path = None
    if load.bodies is not None:
        path = urlsplit(load.url).path or "/"
        script_path = scratch / f"{load.bodies.name}.lua"
        script_path.write_text(
            wrk_lua.script(bodies=load.bodies, path=path, threads=load.threads, rate=load.rate)
        )
    done = subprocess.run(  # noqa: S603 (our own arguments)
        load.command(wrk, script_path),
        capture_output=True,
        text=True,
        timeout=load.duration + TIMEOUT_S + 60,
    )
    if done.returncode:
        raise RuntimeError(f"wrk exited {done.returncode}: {done.stderr[-2000:]}")
    if done.stderr.strip():  # a Lua error is printed, and wrk carries on with bad requests
        raise RuntimeError(f"wrk reported: {done.stderr[-2000:]}")
    figures = wrk_output.parse(done.stdout)
    figures["offered_per_s"] = load.rate or None
    return figures
