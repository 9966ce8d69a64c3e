"""Phone calls: the time from a speech turn's webhook to its TwiML answer, with an instant engine.

    .venv/bin/python -m bench.calls [--turns 500] [--database gk_bench_calls] [--redis-db 7]

A caller waits on the line while the assistant decides (docs/architecture.md, "Phone calls"), so
what matters is the whole turn: the signature check, storing the turn, the owner's rules, the
engine (the loopback OpenAI stand-in, which answers at once), the verdict and the TwiML. Each
turn is a signed POST to `/webhook/twilio/voice/gather` through Django's full request handling,
in this process, on the benchmark's PostgreSQL; calls of three turns each, every turn answered
on the owner's behalf (the phone company's rule is `auto` and matches "bill"). Also part of
`make bench` as the `calls` phase (bench/run.py); standalone it prints the figures and writes
bench/results/calls.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from urllib.parse import urlencode

TWILIO_TOKEN = "bench-twilio-token"
VOICE_NUMBER = "+15550009999"
PUBLIC_BASE_URL = "https://gatekeeper.bench.invalid"
TURNS_PER_CALL = 3
SAID = "Hello, this is Acme Mobile calling about your bill for this month."


def measure(*, turns: int = 500) -> dict:
    """p50/p99 (ms) of `turns` speech turns, webhook in to TwiML out; Django must be set up."""
    from django.test import Client, override_settings

    from bench.loadgen import percentile
    from channels_app.twilio.signature import SIGNATURE_HEADER, sign
    from channels_app.twilio.voice.payloads import call_params, gather_params, new_call_sid
    from conversations.models import ChannelAccount, Provider, User

    owner = User.objects.get(username="owner")
    ChannelAccount.objects.get_or_create(
        provider=Provider.VOICE, address=VOICE_NUMBER, defaults={"owner": owner}
    )
    client = Client(HTTP_HOST="127.0.0.1")
    answered: list[bool] = []

    def post(path: str, params: dict[str, str]) -> float:
        signature = sign(f"{PUBLIC_BASE_URL}{path}", params, TWILIO_TOKEN)
        started = time.perf_counter()
        response = client.post(
            path,
            data=urlencode(params),
            content_type="application/x-www-form-urlencoded",
            headers={SIGNATURE_HEADER: signature},
        )
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.content
        assert b"<Say" in response.content, response.content
        if "gather" in path:
            answered.append(b"Thanks, noted." in response.content)
        return elapsed

    def one_call(number: int) -> list[float]:
        sid, caller = new_call_sid(), f"+1555{number % 10**7:07d}"
        post("/webhook/twilio/voice", call_params(call_sid=sid, to=VOICE_NUMBER, caller=caller))
        timings = []
        for turn in range(1, TURNS_PER_CALL + 1):
            params = gather_params(call_sid=sid, to=VOICE_NUMBER, caller=caller, speech=f"{SAID} ({turn})")
            timings.append(post(f"/webhook/twilio/voice/gather?turn={turn}&attempt=1", params))
        return timings

    with override_settings(
        TWILIO_AUTH_TOKEN=TWILIO_TOKEN, TWILIO_WEBHOOK_SIGNING_KEY="", PUBLIC_BASE_URL=PUBLIC_BASE_URL
    ):
        one_call(0)  # warm up: the engine's SDK client, templates, the first connection
        timings: list[float] = []
        number = 1
        while len(timings) < turns:
            timings.extend(one_call(number))
            number += 1
    timings = sorted(timings[:turns])
    answered = answered[TURNS_PER_CALL:][:turns]  # not the warm-up call's
    figures = {
        "calls": {
            "turns": len(timings),
            "p50_ms": round(percentile(timings, 0.50), 1),
            "p99_ms": round(percentile(timings, 0.99), 1),
            "max_ms": round(max(timings), 1),
            "answered_on_the_line": f"{sum(answered)}/{len(answered)}",
            "measured": "speech-turn webhook to TwiML answer, in process, instant engine",
        }
    }
    print(f"  calls: {figures['calls']}", flush=True)
    return figures


def main(argv: list[str] | None = None) -> None:
    """A fresh benchmark database and stand-ins (as `make bench` prepares them), then the calls phase."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=500)
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE", "gk_bench_calls"))
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG", "127.0.0.1:5432"))
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS", "127.0.0.1:6379"))
    parser.add_argument("--redis-db", type=int, default=int(os.environ.get("BENCH_REDIS_DB", "7")))
    args = parser.parse_args(argv)

    from bench.run import ROOT, Run, machine

    run = Run(
        quick=False,
        database=args.database,
        redis_db=args.redis_db,
        pg_host=args.pg,
        redis_host=args.redis,
    )
    try:
        run.prepare()
        figures = measure(turns=args.turns)
    finally:
        run.close()
    figures["machine"] = machine()
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "calls.json").write_text(json.dumps(figures, indent=2, default=str))
    print(f"wrote {out / 'calls.json'}")


if __name__ == "__main__":
    main()
