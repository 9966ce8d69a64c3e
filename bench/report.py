"""Turning a run's figures into BENCHMARKS.md and the latency-against-load plot."""

from __future__ import annotations

from pathlib import Path

from bench import report_sections as sections
from bench.payloads import KNOWN_SENDERS

#: The issue's anchors for this kind of machine (2 cores, wrk, 32 connections): bare req/s, minimal req/s, p99 ms.
ANCHORS = {
    "daphne, 1 process": (281, 136, 353),
    "uvicorn, 2 workers": (961, 371, 174),
    "gunicorn sync, 2 workers": (3054, 488, 97),
}


#: The web chat's targets (the issue): sockets one ASGI process holds, and its memory back to the
#: baseline once they close, that is within the larger of these two tolerances of it.
WEBCHAT_SOCKETS = 2000
RSS_TOLERANCE_MB = 20.0
RSS_TOLERANCE_FRACTION = 0.10


def _n(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def ingest_table(figures: dict) -> list[str]:
    """Closed-loop ingest per server recipe, next to the anchors."""
    lines = [
        "| server | bare view req/s | minimal ingest req/s (p99) | webhook, 1 msg: msgs/s (p50 / p99) "
        "| 1 msg, first contact: msgs/s (p99) | batch of 10: msgs/s (p99) | batch of 100: msgs/s (p99) "
        "| then ingested by 1 worker, msgs/s (1 / first / 10 / 100) | anchor: bare / minimal / p99 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for recipe, cases in figures.get("ingest", {}).items():
        bare, minimal = cases["bare view"], cases["minimal ingest"]
        single, ten, hundred = (
            cases["webhook, 1 message"],
            cases["webhook, batch of 10"],
            cases["webhook, batch of 100"],
        )
        first = cases.get("webhook, 1 message, first contact", {})
        drained = " / ".join(
            _n(case.get("drain", {}).get("messages_per_s")) for case in (single, first, ten, hundred)
        )
        anchor = ANCHORS.get(recipe)
        repeated = [name for name, case in cases.items() if isinstance(case, dict) and case.get("repeats")]
        if repeated:
            recipe = f"{recipe} (*repeated* ids in: {', '.join(repeated)})"
        lines.append(
            f"| {recipe} | {_n(bare['rate_per_s'])} | {_n(minimal['rate_per_s'])} ({_n(minimal['p99_ms'])} ms) "
            f"| {_n(single['messages_per_s'])} ({_n(single['p50_ms'], 1)} / {_n(single['p99_ms'])} ms) "
            f"| {_n(first.get('messages_per_s'))} ({_n(first.get('p99_ms'))} ms) "
            f"| {_n(ten['messages_per_s'])} ({_n(ten['p99_ms'])} ms) "
            f"| {_n(hundred['messages_per_s'])} ({_n(hundred['p99_ms'])} ms) "
            f"| {drained} "
            f"| {' / '.join(_n(v) for v in anchor) if anchor else '-'} |"
        )
    return lines


def sweep_table(figures: dict) -> list[str]:
    """Open-loop points: offered load against achieved rate and latency."""
    lines = [
        "| server | offered req/s | connections | achieved req/s | p50 ms | p99 ms | errors | sent late (lag max) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for recipe, points in figures.get("sweep", {}).items():
        for point in points:
            late = point.get("late")
            lag = f"{late:,} ({_n(point.get('lag_max_ms'))} ms)" if late else ("0" if late == 0 else "-")
            lines.append(
                f"| {recipe} | {point['offered_per_s']} | {point.get('connections') or '-'} "
                f"| {_n(point['rate_per_s'], 1)} | {_n(point['p50_ms'], 1)} "
                f"| {_n(point['p99_ms'], 1)} | {point['errors']} | {lag} |"
            )
    return lines


def summary_table(figures: dict, chosen: str) -> list[str]:
    """One row per figure the issue asks for, with its target."""
    ingest = figures.get("ingest", {}).get(chosen, {})
    sweep = {p["offered_per_s"]: p for p in figures.get("sweep", {}).get(chosen, [])}
    turnaround = figures.get("turnaround", {})
    workers = figures.get("workers", {})
    killed = figures.get("killed_job", {})
    prompt = figures.get("prompt", {})
    queries = figures.get("queries", {})
    rows = []

    if ingest:
        single, minimal = ingest["webhook, 1 message"], ingest["minimal ingest"]
        ratio = single["rate_per_s"] / minimal["rate_per_s"] if minimal["rate_per_s"] else 0
        rounds = sorted(ingest.get("ratio rounds", []))
        paired = ""
        if len(rounds) > 1:
            ratio = rounds[len(rounds) // 2]
            paired = (
                f"; {ratio:.0%} in the median of {len(rounds)} alternating pairs "
                f"({', '.join(f'{r:.0%}' for r in ingest['ratio rounds'])})"
            )
        rows.append(
            (
                "webhook ingest, 1 message per POST (committed and acknowledged)",
                f"{_n(single['messages_per_s'])} msgs/s, p50 {_n(single['p50_ms'], 1)} ms, p99 {_n(single['p99_ms'])} ms "
                f"({single['rate_per_s'] / minimal['rate_per_s']:.0%} of the minimal ingest's {_n(minimal['rate_per_s'])} "
                f"req/s{paired}; bare view {_n(ingest['bare view']['rate_per_s'])} req/s)",
                "≥ 80 % of the minimal ingest",
                "met" if ratio >= 0.8 else "not met",
            )
        )
        if drain := single.get("drain"):
            rows.append(
                (
                    "the same deliveries ingested by 1 worker (messages stored, draft jobs scheduled)",
                    f"{_n(drain['messages_per_s'])} msgs/s ({_n(drain['deliveries'])} deliveries in {drain['seconds']} s)",
                    "",
                    "",
                )
            )
        if first := ingest.get("webhook, 1 message, first contact"):
            rows.append(
                (
                    "webhook ingest, 1 message per POST, each from a new sender",
                    f"{_n(first['messages_per_s'])} msgs/s, p50 {_n(first['p50_ms'], 1)} ms, p99 {_n(first['p99_ms'])} ms",
                    "",
                    "",
                )
            )
        for size in (10, 100):
            case = ingest[f"webhook, batch of {size}"]
            rows.append(
                (
                    f"webhook ingest, batches of {size}",
                    f"{_n(case['messages_per_s'])} msgs/s, p99 {_n(case['p99_ms'])} ms",
                    "≥ 2,000 msgs/s" if size == 100 else "",
                    ("met" if case["messages_per_s"] >= 2000 else "not met") if size == 100 else "",
                )
            )
    if sweep and 200 not in sweep:
        best = max(sweep.values(), key=lambda p: p["rate_per_s"])
        rows.append(
            (
                "ack latency at 200 req/s offered (open loop)",
                f"not reached: saturated at {_n(best['rate_per_s'], 1)} req/s served "
                f"(p99 {_n(best['p99_ms'])} ms at {best['offered_per_s']} offered)",
                "p99 < 100 ms",
                "not met",
            )
        )
    if 200 in sweep:
        point = sweep[200]
        rows.append(
            (
                "ack latency at 200 req/s offered (open loop)",
                f"p50 {_n(point['p50_ms'], 1)} ms, p99 {_n(point['p99_ms'], 1)} ms ({_n(point['rate_per_s'], 1)} req/s "
                f"served{', ' + format(point['late'], ',') + ' sent late' if point.get('late') else ''})",
                "p99 < 100 ms",
                "met" if point["p99_ms"] < 100 and not point["errors"] else "not met",
            )
        )
    if "latency" in turnaround:
        latency = turnaround["latency"]
        rows.append(
            (
                f"turnaround, webhook → reply at the Graph stand-in ({latency['pace_per_s']:g} msgs/s)",
                f"p50 {_n(latency['p50_ms'], 1)} ms, p99 {_n(latency['p99_ms'], 1)} ms",
                "p50 < 100 ms, p99 < 300 ms",
                "met" if latency["p50_ms"] < 100 and latency["p99_ms"] < 300 else "not met",
            )
        )
    for key in ("1 worker(s)", "2 worker(s)"):
        if key in turnaround:
            item = turnaround[key]
            rows.append(
                (
                    f"sustained pipeline, {item['workers']} SimpleWorker(s)",
                    f"{_n(item['messages_per_s'], 1)} msgs/s ({_n(item['per_worker_per_s'], 1)} per worker; "
                    f"{item['messages']} messages in {item['seconds']} s)",
                    "",
                    "",
                )
            )
    for worker_class, item in workers.items():
        rows.append((f"no-op jobs, {worker_class}", f"{_n(item['jobs_per_s'], 1)} jobs/s", "", ""))
    if killed:
        rows.append(
            (
                "SIGKILLed draft job redone (production defaults: stalled after 30 s, sweep every 15 s)",
                f"{killed['seconds_to_redo']} s, {killed['replies']} reply",
                "< 60 s, exactly one reply",
                "met" if killed["seconds_to_redo"] < 60 and killed["replies"] == 1 else "not met",
            )
        )
    for length, item in prompt.items():
        rows.append(
            (
                f"prompt for a conversation of {length}",
                f"{item['prompt_tokens']:,} tokens (context built in {item['context_ms']} ms)",
                "bounded",
                "",
            )
        )
    if prompt:
        sizes = {item["prompt_tokens"] for item in prompt.values()}
        rows[-1] = (*rows[-1][:3], "met" if max(sizes) - min(sizes) <= 50 else "not met")
    for key, label in (("webhook", "known senders"), ("webhook, first contact", "new senders")):
        if webhook := queries.get(key, {}):
            rows.append(
                (
                    f"queries per webhook, {label}",
                    ", ".join(f"{count} for {name}" for name, count in webhook.items()),
                    "constant, whatever the batch size",
                    "met" if len(set(webhook.values())) == 1 else "not met",
                )
            )
    jobs = {name: count for name, count in queries.items() if not name.startswith("webhook")}
    if jobs:
        drafts = [count for name, count in jobs.items() if name.startswith("draft")]
        rows.append(
            (
                "queries per draft / send job",
                ", ".join(f"{count} for {name}" for name, count in jobs.items()),
                "constant, not growing",
                "met" if len(set(drafts)) == 1 else "not met",
            )
        )
    rows += sections.burst_rows(figures)
    rows += webchat_rows(figures.get("webchat", {}))
    rows += sections.calls_rows(figures)
    rows += sections.followups_rows(figures)
    lines = ["| figure | measured | target | |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return lines


def rss_allowance(before_mb: float) -> float:
    """How far above its baseline the RSS may stay after the sockets close, MB."""
    return max(RSS_TOLERANCE_MB, before_mb * RSS_TOLERANCE_FRACTION)


def _tcp(counts: dict[str, int]) -> str:
    """The server's connections other than visitors' sockets, e.g. "34 to port 6379"."""
    return ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items()) if kind != "visitors") or "-"


def webchat_rows(webchat: dict) -> list[tuple[str, str, str, str]]:
    """The summary's web-chat rows: sockets held, round trip at that load, memory; pending if not run."""
    if not webchat:
        return [
            (
                "web chat: sockets per ASGI process, round trip p50/p99, memory before/during/after",
                "not measured yet (`python -m bench.run --only webchat`)",
                "2,000 sockets, memory back to baseline",
                "pending",
            )
        ]
    held, asked = webchat["sockets_held"], webchat["sockets_asked"]
    opening, load, rest = webchat["opening"], webchat["at_load"], webchat["at_rest"]
    refused = sum(opening["failed"].values())
    if held >= WEBCHAT_SOCKETS:
        sockets_status = "met"
    elif asked >= WEBCHAT_SOCKETS:
        sockets_status = "not met"
    else:
        sockets_status = f"not tried ({asked:,} asked)"
    memory = webchat["memory"]
    before, during, after = (memory[key]["rss_mb"] for key in ("before", "during", "after"))
    per_socket = (during - before) * 1024 / held if held else 0
    second = webchat.get("second_round")
    again = (
        f"; a second round of {second['opening']['opened']:,} sockets then "
        f"{second['after']['rss_mb'] - after:+.1f} MB"
        if second
        else ""
    )
    return [
        (
            f"web chat: sockets one ASGI process holds ({webchat.get('server', 'daphne')}, Redis channel layer)",
            f"{held:,} of {asked:,} held{f', {refused:,} refused' if refused else ''}; opened at "
            f"{_n(opening['per_s'])}/s, connect p50 {_n(opening['connect']['p50_ms'])} ms, "
            f"p99 {_n(opening['connect']['p99_ms'])} ms",
            f"≥ {WEBCHAT_SOCKETS:,} sockets",
            sockets_status,
        ),
        (
            f"web chat: message round trip with {load['sockets_open']:,} sockets open",
            f"assistant's reply p50 {_n(load['reply']['p50_ms'])} ms, p99 {_n(load['reply']['p99_ms'])} ms; "
            f"echo p50 {_n(load['echo']['p50_ms'])} ms, p99 {_n(load['echo']['p99_ms'])} ms; "
            f"{load['lost']} of {load['messages']} lost (at rest: reply p50 {_n(rest['reply']['p50_ms'])} ms, "
            f"p99 {_n(rest['reply']['p99_ms'])} ms)",
            "",
            "",
        ),
        (
            "web chat: daphne RSS before / during / after the sockets close",
            f"{_n(before, 1)} / {_n(during, 1)} / {_n(after, 1)} MB ({_n(per_socket)} KB per socket held{again})",
            f"after ≤ before + {_n(RSS_TOLERANCE_MB)} MB or + {RSS_TOLERANCE_FRACTION * 100:.0f} %, whichever is larger",
            "met" if after <= before + rss_allowance(before) else "not met",
        ),
    ]


def webchat_section(webchat: dict) -> list[str]:
    """How the web-chat figures were measured, and their detail."""
    if not webchat:
        return ["Not measured yet: `python -m bench.run --only webchat` adds it to this page.", ""]
    memory, closing, second = webchat["memory"], webchat["closing"], webchat.get("second_round")
    asked, load, rest = webchat["sockets_asked"], webchat["at_load"], webchat["at_rest"]
    before, during, after = (memory[key]["rss_mb"] for key in ("before", "during", "after"))
    pace = closing["concurrency"]
    closes = f"closes them {pace} at a time" if isinstance(pace, int) else f"closes them {pace}"
    if second:
        share = second["opening"]["asked"] / max(1, asked)
        again = (
            f"A second round then opens and closes {second['opening']['asked']:,} sockets: memory the "
            "allocator kept from the first round is reused and the RSS barely moves, while memory leaked "
            f"per socket would grow it again by about {share * 100:.0f} % of the first round's growth. "
        )
    else:
        again = ""
    lines = [
        "The production shape of the web chat (Procfile `ws`, `worker` and `sweeper`): one daphne process "
        "serving the `/ws/` routes with the Redis channel layer and cache, and "
        f"{webchat.get('workers', 1)} RQ `SimpleWorker` drafting every reply with the model stand-in (burst window "
        "0; the web chat's rate limits raised, as every visitor comes from 127.0.0.1). `bench/webchat_load.py` "
        "drives it from its own process (aiohttp, same 2 cores): it times messages of new visitors one at a "
        f"time at rest, opens {asked:,} sockets 25 at a time (each a new visitor, counted once its history "
        "frame arrived, read all the time so that daphne's pings are answered), times "
        f"{load['messages']} messages from held sockets picked at random, one at a time, and {closes}. "
        "A round trip is timed from sending a message to its "
        "echo (stored and shown back) and to the assistant's reply (drafted and sent by the worker, rung "
        "to the socket through the channel layer).",
        "",
        "RSS is daphne's VmRSS in /proc: *before* after a warm-up and the messages at rest with no socket "
        f"open, *during* with every socket open after the messages, *after* once daphne holds none of them "
        f"plus {_n(closing['settle_s'])} s. {again}Target: at least "
        f"{WEBCHAT_SOCKETS:,} sockets held, and the RSS after close within {_n(RSS_TOLERANCE_MB)} MB or "
        f"{RSS_TOLERANCE_FRACTION * 100:.0f} % of the RSS before, whichever is larger (here "
        f"{_n(before + rss_allowance(before), 1)} MB). The descriptors' limit is raised to its hard "
        f"limit ({webchat.get('fd_limit', '?'):,}) for daphne and for the load.",
        "",
        "| messages | sockets open | sent | lost | echo p50 / p99 | assistant's reply p50 / p99 / max |",
        "|---|---|---|---|---|---|",
    ]
    for name, trips in (("at rest", rest), ("at load", load)):
        echo, reply = trips["echo"], trips["reply"]
        lines.append(
            f"| {name} | {trips['sockets_open']:,} | {trips['messages']} | {trips['lost']} "
            f"| {_n(echo['p50_ms'])} / {_n(echo['p99_ms'])} ms "
            f"| {_n(reply['p50_ms'])} / {_n(reply['p99_ms'])} / {_n(reply['max_ms'])} ms |"
        )
    moments = [
        ("before", 0, memory["before"]),
        ("all sockets open", webchat["opening"]["opened"], memory["opened"]),
        ("during: after the messages at load", load["sockets_open"], memory["during"]),
        ("after close", 0, memory["after"]),
    ]
    if second:
        moments += [
            ("second round open", second["opening"]["opened"], second["during"]),
            ("second round closed", 0, second["after"]),
        ]
    lines += [
        "",
        "| daphne | visitors' sockets | RSS | descriptors | its other TCP connections |",
        "|---|---|---|---|---|",
    ]
    for name, sockets, snapshot in moments:
        lines.append(
            f"| {name} | {sockets:,} | {_n(snapshot['rss_mb'], 1)} MB | {snapshot['fds']:,} "
            f"| {_tcp(snapshot['tcp'])} |"
        )
    steps = ", ".join(
        f"{key.removesuffix('_s').replace('_', ' ')} {value} s" for key, value in webchat["steps"].items()
    )
    lines += [
        "",
        f"Opening took {webchat['opening']['seconds']} s ({_n(webchat['opening']['per_s'])} sockets/s); "
        f"closing {closing['close_s']} s, and daphne had let go of every socket {closing['released_s']} s "
        f"later. Errors in daphne's log: {webchat.get('server_errors', '?')}. Peak RSS "
        f"{_n(memory['peak_rss_mb'], 1)} MB. Steps: {steps}.",
    ]
    if second and after > before + rss_allowance(before):
        growth = second["after"]["rss_mb"] - after
        leak = (during - before) * second["opening"]["opened"] / max(1, webchat["sockets_held"])
        verdict = "kept by the allocator and reused, not leaked" if growth < leak / 4 else "growing again"
        lines.append(
            f"The RSS after close stays {_n(after - before, 1)} MB above the RSS before; the second round "
            f"moved it by {growth:+.1f} MB where a leak per socket would add about {_n(leak, 1)} MB: "
            f"memory {verdict}."
        )
    lines.append("")
    return lines


def explanations(figures: dict, chosen: str = "gunicorn gthread, 2 workers x 4 threads") -> list[str]:
    """The gaps to the targets, as the profiles showed them (py-spy --gil on a gunicorn worker under
    this load, pg_stat_activity sampled at the same time, cProfile of a batch in process)."""
    ingest = figures.get("ingest", {}).get(chosen, {})
    single = ingest.get("webhook, 1 message", {}).get("rate_per_s")
    minimal = ingest.get("minimal ingest", {}).get("rate_per_s")
    ratio = f"{single / minimal:.0%} of it in this run" if single and minimal else "not measured in this run"
    if len(rounds := sorted(ingest.get("ratio rounds", []))) > 1:
        ratio += f", {rounds[len(rounds) // 2]:.0%} in the median of {len(rounds)} alternating pairs"
    hundred = _n(ingest.get("webhook, batch of 100", {}).get("messages_per_s"))
    sweep = {p["offered_per_s"]: p for p in figures.get("sweep", {}).get(chosen, [])}
    if 200 in sweep and sweep[200]["p99_ms"] is not None and sweep[200]["p99_ms"] < 100:
        ack = (
            f"- **Ack latency at 200 req/s** offered: p99 {_n(sweep[200]['p99_ms'], 1)} ms on {chosen}, "
            "inside the target. An ack is the signature check, one transaction and the enqueue; the draft "
            "runs later, in a worker. Throughput scales with cores: `WEB_CONCURRENCY` = cores."
        )
    else:
        served = max((p["rate_per_s"] for p in sweep.values()), default=0)
        ack = (
            f"- **Ack latency at 200 req/s** is out of reach in this run: {chosen} served at most "
            f"{_n(served, 1)} req/s of single messages in the open loop (see the table; the machine's load "
            "average is above). Below saturation the ack p99 stays small. Throughput scales with cores: "
            "`WEB_CONCURRENCY` = cores."
        )
    queries = figures.get("queries", {})
    known = queries.get("webhook", {}).get("1 message(s)", "?")
    first = queries.get("webhook, first contact", {}).get("1 message(s)", "?")
    draft = next((v for k, v in queries.items() if k.startswith("draft")), "?")
    send = next((v for k, v in queries.items() if k.startswith("send")), "?")
    load = figures.get("machine", {}).get("load_average", "?")
    per_worker = figures.get("turnaround", {}).get("1 worker(s)", {}).get("messages_per_s", "?")
    latency = figures.get("turnaround", {}).get("latency", {})
    return [
        f"- **The machine.** Load average (1/5/15 min) when the run ended: {load} on 2 cores. PostgreSQL, "
        "Redis, the servers, the workers and the load generator share those 2 cores, so every figure "
        "includes the others' CPU; repeated runs of a phase vary by about ±15 %.",
        f"- **Webhook ingest is set-based**: a delivery runs {known} statements from senders who wrote before "  # noqa: S608 -- prose, not SQL
        f"and {first} from new ones, whatever its size (one SELECT of the senders' conversations with their "
        "accounts and contacts, one `INSERT ... ON CONFLICT DO NOTHING RETURNING` of the messages, one UPDATE "
        "per distinct set of new values; first contacts add one INSERT ... RETURNING each for contacts and "
        "conversations). Before this run a single message took 17 statements and a batch of 100 took 1,403.",
        f"- **One message against the minimal ingest** ({ratio}). Both now do the same work before the 200: "
        "the signature, a JSON parse, one INSERT and an enqueue after it. The webhook commits the verified body "
        "as it came (`conversations/deliveries.py`) and the ingest job stores what it carried; the minimal "
        "ingest stores the one message. What the webhook adds is parsing the payload once to refuse a body that "
        "is not a WhatsApp webhook with a 400 (8 µs), and what it saves is the enqueue: one Redis `SET NX` "
        "per delivery, and an RQ job only when none is waiting (a burst of deliveries costs one job). Before "
        "this, the request did the whole ingest and reached 37 % of the minimal ingest on this machine "
        "(cProfile under wrk: the RQ enqueue 32 % of the ingest, the conversation lookup 14 %, the message "
        "INSERT with its 8 indexes and the conversation UPDATE most of the rest; PostgreSQL 1.29 ms of CPU per "
        "request against 0.29 ms). That work now runs in the worker, many deliveries per transaction: "
        "the column *then ingested by 1 worker* times it, from the worker's first ingest to its last.",
        "- **Found and fixed by these measurements**: the lookup joined contacts by address without their "
        "owner, so PostgreSQL scanned every conversation of the account (5 ms at 2,000 conversations, growing "
        "with them); it now uses the unique (owner, address) index (0.05 ms). `RQBackend` built a new Redis "
        "client per enqueue; it keeps one per process. A delivery of 100 senders enqueued 100 RQ jobs (31 ms); "
        "its draft jobs now carry ten conversations each, in one Redis round trip. The web-chat rate limiter "
        "opened a Redis pool per socket, and closing 3,000 sockets at once failed 1,975 `group_discard` calls "
        "on a full channel-layer pool; both fixed (`channels_app/webchat/ratelimit.py`, `layer.py`).",
        f"- **Batches of 100** reach {hundred} msgs/s on {chosen} in this run, against the 2,000 msgs/s "
        "target (the sync and gthread recipes trade places between runs). Per batch the "
        "CPU goes to parsing and storing 100 messages with their raw JSON, building 100 model rows, the lookup "
        "and the enqueue; the database work is a few milliseconds.",
        ack,
        f"- **Turnaround** (p50 {_n(latency.get('p50_ms'), 1)} ms, p99 {_n(latency.get('p99_ms'), 1)} ms): "
        "a message goes webhook → ingest job → draft job → Graph, two queue hops, each an RQ `SimpleWorker` "
        "job with its own bookkeeping (see the no-op jobs/s above); the ingest hop is the price of a 200 "
        "that costs one INSERT. A draft job that decides to send delivers the reply itself instead of "
        "queueing a send job, and sends jump the queue. In production the burst window "
        f"(`REPLY_BURST_SECONDS`, 3 s) waits for a company's next lines first. **The pipeline** (draft job {draft} "
        f"statements including its send, an approved reply's send job {send}, both constant in conversation "
        f"length) runs {per_worker} messages/s per `SimpleWorker`: each reply is a Chat Completions call and "
        "three Graph calls (read receipt, typing indicator, send) plus RQ's own bookkeeping.",
        "- **A killed job** is redone by the sweeper once its work is `STALLED_WORK_SECONDS` (30 s) overdue, "
        "checked every 15 s. A SIGKILLed worker that ran the RQ scheduler also holds the scheduler lock until "
        "it expires, so delayed jobs (burst windows, retries) wait for the sweeper meanwhile.",
    ]


def plot(figures: dict, path: Path) -> None:
    """p50 and p99 ack latency against offered load, one colour per server recipe (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for index, (recipe, points) in enumerate(figures.get("sweep", {}).items()):
        colour = f"C{index}"
        rates = [p["offered_per_s"] for p in points]
        ax.plot(rates, [p["p50_ms"] for p in points], "o--", color=colour, label=f"{recipe} p50")
        ax.plot(rates, [p["p99_ms"] for p in points], "s-", color=colour, label=f"{recipe} p99")
    ax.axhline(100, color="grey", linewidth=0.8, linestyle=":")
    ax.text(ax.get_xlim()[0] if ax.lines else 0, 105, "target p99 < 100 ms", color="grey", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered load, signed single-message webhooks per second (open loop)")
    ax.set_ylabel("ack latency, ms")
    ax.set_title("Gatekeeper webhook ack latency against offered load")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def write(
    figures: dict,
    *,
    markdown: Path,
    plot_path: Path | None = None,
    chosen: str = "gunicorn gthread, 2 workers x 4 threads",
    **kwargs,
) -> None:
    """Write BENCHMARKS.md (and the plot next to the results)."""
    plot_path = plot_path or kwargs.get("plot")
    if plot_path is not None:
        plot(figures, plot_path)
    m = figures.get("machine", {})
    relative = plot_path.relative_to(markdown.parent) if plot_path else ""
    text = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (bench/run.py); do not edit by hand. The production stack on loopback:",
        "PostgreSQL and Redis on this machine, the web server recipes below, RQ `SimpleWorker`s with their",
        "scheduler, the sweeper, and loopback stand-ins of the Graph API and of an OpenAI-compatible model",
        "(instant answers unless said otherwise, burst window 0). Requests/s and ack latency are measured with",
        "`wrk` on the same 2 cores (see *How the load is made*); the web-chat sockets come from",
        "`bench/webchat_load.py` (aiohttp) in its own process.",
        "",
        sections.mode_line(figures),
        "",
        f"**Machine**: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('memory', '?')}; "
        f"Python {m.get('python', '?')}; PostgreSQL {m.get('postgres', '?')}; {m.get('os', '?')}.  ",
        f"**Command**: `{figures.get('command', 'make bench')}` ({figures.get('minutes', '?')} minutes)"
        + (f"; re-run since: {', '.join(figures['rerun'])}." if figures.get("rerun") else "."),
        "",
        f"## Summary (serving recipe: {chosen})",
        "",
        *summary_table(figures, chosen),
        "",
        "## How the load is made",
        "",
        *sections.method_section(figures),
        "## Webhook ingest by server (closed loop with wrk: 32 connections; batches of 10 on 8, of 100 on 4)",
        "",
        f"Messages come from {KNOWN_SENDERS:,} companies that wrote before (each sent one message, unmeasured, "
        "before the load), except in the first-contact column, where every message comes from a new sender.",
        "",
        *ingest_table(figures),
        "",
        "## Where the time goes",
        "",
        *explanations(figures, chosen),
        "",
        "## Ack latency against offered load (open loop, wrk paced by its Lua delay())",
        "",
        f"![latency percentiles against offered load]({relative})",
        "",
        *sweep_table(figures),
        "",
        "## Web chat: sockets one ASGI process holds",
        "",
        *webchat_section(figures.get("webchat", {})),
        *sections.burst_section(figures),
        *sections.calls_section(figures),
        *followups_section(sections.stored("followups", figures)),
    ]
    markdown.write_text("\n".join(text))


def followups_section(followups: dict) -> list[str]:
    """10,000 follow-ups due in the same minute, fired by concurrent sweeps (bench/followups.py)."""
    if not followups:
        return []
    return [
        "",
        "## Follow-ups due in the same minute",
        "",
        f"{followups['scheduled']:,} follow-ups (your own words, one per conversation) due within one minute, "
        f"fired by {followups['sweepers']} concurrent sweeps (`conversations.followups.fire_due`, threads with "
        f"their own PostgreSQL connections): all decided in **{followups['seconds']} s** "
        f"({followups['per_second']}/s); {followups['sent']:,} sent, {followups['messages_queued']:,} messages "
        f"queued, {followups['sent_twice']} sent twice (each sweep decided {followups['fired_by_each_sweeper']}). "
        "Delivering the queued sends is what the other phases measure.",
    ]


def main() -> None:
    """Rewrite BENCHMARKS.md and the plot from bench/results/latest.json, without measuring again."""
    import json

    root = Path(__file__).resolve().parents[1]
    figures = json.loads((root / "bench" / "results" / "latest.json").read_text())
    write(figures, markdown=root / "BENCHMARKS.md", plot_path=root / "bench" / "results" / "latency.png")


if __name__ == "__main__":
    main()
