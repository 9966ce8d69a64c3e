"""The webhook against the minimal ingest, with `wrk`, on one server in one run: the ratio that matters.

The machine is shared, so absolute figures drift; what this reports is the ratio of our
webhook (one message per POST from a known sender) to the minimal ingest (bench/views.py),
measured alternately on the same gunicorn. Bodies are signed ahead of time, every message id
unique, senders cycling through the KNOWN_SENDERS that wrote before (bench/payloads.py).

    .venv/bin/python -m bench.ingest_profile prepare      # fresh database, owner, 2,000 senders
    .venv/bin/python -m bench.ingest_profile compare --rounds 3
    .venv/bin/python -m bench.ingest_profile profile      # py-spy on both workers under load

Database `gk_perf_ingest`, Redis database 3 and port 19310 unless told otherwise (`--port`,
`GK_PROFILE_DB`, `GK_PROFILE_REDIS`).
"""

from __future__ import annotations

import argparse
import os
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

from bench import payloads
from bench.stack import APP_SECRET, CREATE_TABLE, PHONE_NUMBER_ID, ROOT

DATABASE = os.environ.get("GK_PROFILE_DB", "gk_perf_ingest")
REDIS_DB = os.environ.get("GK_PROFILE_REDIS", "3")
DSN = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
SCRATCH = Path(tempfile.gettempdir()) / "gk-ingest-profile"

#: Replays one pre-signed request per call, each thread its own file, and counts wrap-arounds
#: (a wrapped request is a redelivery, the cheaper idempotent path: the run then needs more bodies).
LUA = r"""
local threads = {}
local next_id = 0
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
local requests, index = {}, 0
wrapped = 0
function init(args)
  for line in io.lines(args[1] .. "." .. tid) do
    local target, signature, body = line:match("^(%S+) (%S+) (.*)$")
    requests[#requests + 1] = wrk.format("POST", target,
      {["Content-Type"] = "application/json", ["X-Hub-Signature-256"] = signature}, body)
  end
end
function request()
  index = index + 1
  if index > #requests then index, wrapped = 1, wrapped + 1 end
  return requests[index]
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("wrapped") end
  io.write(string.format("WRAPPED %d\n", total))
end
"""


def environment() -> dict[str, str]:
    """The production settings plus the comparison views, on this harness's database and Redis."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        SECRET_KEY="bench-secret-key",
        DEBUG="false",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        REDIS_URL=f"redis://127.0.0.1:6379/{REDIS_DB}",
        GATEKEEPER_QUEUE="bench",
        GATEKEEPER_VAR_DIR=str(SCRATCH),
        WHATSAPP_APP_SECRET=APP_SECRET,
        WHATSAPP_VERIFY_TOKEN="bench-verify-token",
        WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
        # No worker runs here: nothing is sent, the Graph API is never called.
        WHATSAPP_API_TOKEN="bench-graph-token",
        WHATSAPP_GRAPH_API_URL="http://127.0.0.1:19311/v25.0",
        REPLY_BURST_SECONDS="0",
        GATEKEEPER_PASSWORD="bench-password",
        EMAIL_URL="dummymail://",
    )
    return env


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=environment(), check=True)  # noqa: S603


def prepare(port: int) -> None:
    """A fresh database with the owner and the KNOWN_SENDERS, each having written once; then ANALYZE."""
    SCRATCH.mkdir(exist_ok=True)
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    manage("migrate", "--noinput")
    manage("gatekeeper_setup", "--username", "owner")
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(CREATE_TABLE)
    with Server(port):
        for first in range(0, payloads.KNOWN_SENDERS, 100):
            body = payloads.encode(
                payloads.batch_payload(
                    phone_number_id=PHONE_NUMBER_ID, prefix="seed", first=first, size=100, senders=0
                )
            )
            answer = httpx.post(
                f"http://127.0.0.1:{port}/webhook/whatsapp",
                content=body,
                headers=payloads.headers(body, APP_SECRET),
                timeout=60,
            )
            answer.raise_for_status()
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute("ANALYZE")


class Server:
    """gunicorn, 2 sync workers (the issue's recipe), on `port`, stopped on exit."""

    def __init__(self, port: int, workers: int = 2, extra: tuple[str, ...] = ()) -> None:
        self.port = port
        self.workers = workers
        self.extra = extra
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        SCRATCH.mkdir(exist_ok=True)
        log = (SCRATCH / "gunicorn.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(self.workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "60",
                *self.extra,
                "gatekeeper_site.wsgi:application",
            ],
            cwd=ROOT,
            env=environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start; see " + str(SCRATCH / "gunicorn.log"))

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)  # noqa: S603, S607
        return [int(pid) for pid in out.stdout.split()]

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by the workers and by this database's PostgreSQL backends."""
        with psycopg.connect(DSN, autocommit=True) as conn:
            backends = [
                pid
                for (pid,) in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    [DATABASE],
                )
            ]
        return {"web": _cpu(self.worker_pids()), "postgres": _cpu(backends)}

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _cpu(pids: list[int]) -> float:
    """Seconds of CPU (user and system, every thread) the processes used; a vanished one counts 0."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / ticks


_files = 0


def bodies(target: str, count: int, threads: int) -> Path:
    """`count` signed one-message POSTs from known senders, split into one file per wrk thread."""
    global _files
    _files += 1
    prefix = f"P{os.getpid()}x{_files}x{int(time.time())}"
    stem = SCRATCH / f"bodies-{_files}"
    lines: list[list[str]] = [[] for _ in range(threads)]
    for index in range(count):
        body = payloads.encode(
            payloads.batch_payload(
                phone_number_id=PHONE_NUMBER_ID,
                prefix=prefix,
                first=index,
                size=1,
                senders=payloads.KNOWN_SENDERS,
            )
        )
        signature = payloads.headers(body, APP_SECRET)["X-Hub-Signature-256"]
        lines[index % threads].append(f"{target} {signature} {body.decode()}\n")
    for number, part in enumerate(lines):
        Path(f"{stem}.{number}").write_text("".join(part))
    return stem


def wrk(port: int, stem: Path, *, duration: int, connections: int, threads: int) -> dict:
    """One wrk run; requests per second, non-2xx count, wrap-arounds."""
    script = SCRATCH / "replay.lua"
    script.write_text(LUA)
    out = subprocess.run(  # noqa: S603
        [  # noqa: S607
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
            "--",
            str(stem),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    done = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rate": rate,
        "requests": done,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "wrapped": int(re.search(r"WRAPPED (\d+)", out).group(1)),
        "socket_errors": errors.group(1) if errors else "",
    }


def compare(
    port: int, rounds: int, duration: int, connections: int, threads: int = 2, server_threads: int = 0
) -> list[float]:
    """Minimal ingest and webhook alternately, `rounds` times; prints each pair and its ratios.

    Besides requests per second, the CPU milliseconds per request of the web workers and of
    PostgreSQL's backends: far steadier than throughput on a machine others load too.
    """
    ratios = []
    cpu: dict[str, list[tuple[float, float]]] = {"minimal": [], "webhook": []}
    extra = ("--threads", str(server_threads)) if server_threads else ()
    with Server(port, extra=extra) as server:
        warm = bodies("/webhook/whatsapp", 2000, threads)
        wrk(port, warm, duration=2, connections=connections, threads=threads)
        for round_ in range(rounds):
            pair = {}
            for name, target in (("minimal", "/bench/minimal"), ("webhook", "/webhook/whatsapp")):
                stem = bodies(target, 2000 * duration, threads)
                before = server.cpu_seconds()
                pair[name] = wrk(port, stem, duration=duration, connections=connections, threads=threads)
                after = server.cpu_seconds()
                count = max(pair[name]["requests"], 1)
                cpu[name].append(
                    (
                        1e3 * (after["web"] - before["web"]) / count,
                        1e3 * (after["postgres"] - before["postgres"]) / count,
                    )
                )
            ratio = pair["webhook"]["rate"] / pair["minimal"]["rate"]
            ratios.append(ratio)
            print(
                f"round {round_ + 1}: minimal {pair['minimal']['rate']:7.1f} req/s  "
                f"webhook {pair['webhook']['rate']:7.1f} req/s  ratio {ratio:.2f}  "
                f"cpu ms/req web+pg minimal {cpu['minimal'][-1][0]:.2f}+{cpu['minimal'][-1][1]:.2f} "
                f"webhook {cpu['webhook'][-1][0]:.2f}+{cpu['webhook'][-1][1]:.2f}  "
                f"(non-2xx {pair['minimal']['non_2xx']}/{pair['webhook']['non_2xx']}, "
                f"wrapped {pair['minimal']['wrapped']}/{pair['webhook']['wrapped']})",
                flush=True,
            )
    ratios.sort()
    web = {name: statistics.median(web for web, _ in values) for name, values in cpu.items()}
    pg = {name: statistics.median(pg for _, pg in values) for name, values in cpu.items()}
    print(
        f"median ratio {ratios[len(ratios) // 2]:.2f} over {rounds} rounds; median CPU ms/request "
        f"web {web['minimal']:.2f} vs {web['webhook']:.2f}, postgres {pg['minimal']:.2f} vs {pg['webhook']:.2f}, "
        f"CPU ratio {(web['minimal'] + pg['minimal']) / (web['webhook'] + pg['webhook']):.2f}"
    )
    return ratios


def profile(port: int, duration: int, connections: int, threads: int = 2) -> None:
    """py-spy on each worker while wrk replays the webhook; flame graphs and top lists in SCRATCH."""
    with Server(port) as server:
        warm = bodies("/webhook/whatsapp", 2000, threads)
        wrk(port, warm, duration=2, connections=connections, threads=threads)
        stem = bodies("/webhook/whatsapp", 2000 * (duration + 2), threads)
        spies = [
            subprocess.Popen(  # noqa: S603
                [
                    str(Path(sys.executable).with_name("py-spy")),
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(duration),
                    "--rate",
                    "200",
                    "--format",
                    "raw",
                    "--output",
                    str(SCRATCH / f"profile-{pid}.txt"),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for pid in server.worker_pids()
        ]
        result = wrk(port, stem, duration=duration + 1, connections=connections, threads=threads)
        for spy in spies:
            spy.wait(timeout=60)
    print(f"webhook under py-spy: {result['rate']:.1f} req/s; raw stacks in {SCRATCH}/profile-*.txt")


#: A gunicorn config that runs each worker under cProfile on a CPU clock and dumps it on exit.
CPROFILE_HOOKS = """
import cProfile, os, time
def post_fork(server, worker):
    worker.gk_profile, worker.gk_served = cProfile.Profile(time.process_time), 0
def pre_request(worker, request):
    worker.gk_served += 1
    if worker.gk_served == 200:  # warmed up: lazy imports and first connections are behind
        worker.gk_profile.enable()
def worker_exit(server, worker):
    worker.gk_profile.disable()
    worker.gk_profile.dump_stats(f"{directory}/cprofile-{{os.getpid()}}.prof")
"""


def cprofile(
    port: int,
    duration: int,
    connections: int,
    threads: int = 2,
    top: int = 45,
    target: str = "/webhook/whatsapp",
) -> None:
    """`target` under load with each worker's request thread in cProfile (CPU time, not waiting)."""
    for old in SCRATCH.glob("cprofile-*.prof"):
        old.unlink()
    hooks = SCRATCH / "cprofile_hooks.py"
    hooks.write_text(CPROFILE_HOOKS.format(directory=SCRATCH))
    with Server(port, extra=("-c", str(hooks))):
        wrk(port, bodies(target, 2000, threads), duration=4, connections=connections, threads=threads)
        load = bodies(target, 2000 * duration, threads)
        result = wrk(port, load, duration=duration, connections=connections, threads=threads)
    stats = pstats.Stats(*map(str, SCRATCH.glob("cprofile-*.prof")))
    print(f"{target} under cProfile: {result['rate']:.1f} req/s, {result['requests']} requests")
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top // 2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["prepare", "compare", "profile", "cprofile"])
    parser.add_argument("--port", type=int, default=19310)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--server-threads",
        type=int,
        default=0,
        help="compare: gunicorn gthread with this many threads per worker",
    )
    parser.add_argument("--target", default="/webhook/whatsapp", help="cprofile: the path to load")
    args = parser.parse_args(argv)
    SCRATCH.mkdir(exist_ok=True)
    if args.command == "prepare":
        prepare(args.port)
    elif args.command == "compare":
        compare(args.port, args.rounds, args.duration, args.connections, server_threads=args.server_threads)
    elif args.command == "cprofile":
        cprofile(args.port, args.duration, args.connections, target=args.target)
    else:
        profile(args.port, args.duration, args.connections)


if __name__ == "__main__":
    main()
