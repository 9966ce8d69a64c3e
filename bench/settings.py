"""The production settings plus two comparison views: a bare one and a minimal ingest (bench/views.py)."""

from gatekeeper_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
BENCH_MINIMAL_QUEUE = "bench-minimal"
BENCH_NOOP_QUEUE = "bench-noop"
RQ_QUEUES = {
    **RQ_QUEUES,  # noqa: F405
    BENCH_MINIMAL_QUEUE: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 60},  # noqa: F405
    BENCH_NOOP_QUEUE: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 60},  # noqa: F405
}
