"""Fixtures of the fault-injection suite: private PostgreSQL and Redis servers, and one stack per test."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from conversations.tests.faults.services import ThrowawayPostgres, ThrowawayRedis, missing_binaries
from conversations.tests.faults.stack import Stack, prepare_template


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL cluster of the suite's own, on a free port; stopped and deleted at the end."""
    problem = missing_binaries()
    if problem:
        pytest.skip(f"fault suite needs local server binaries: {problem}")
    server = ThrowawayPostgres().setup()
    yield server
    server.teardown()


@pytest.fixture(scope="session")
def redis_server():
    """A redis-server of the suite's own, without persistence."""
    problem = missing_binaries()
    if problem:
        pytest.skip(f"fault suite needs local server binaries: {problem}")
    server = ThrowawayRedis().start()
    yield server
    server.teardown()


@pytest.fixture(scope="session")
def template_database(postgres_server):
    """The migrated database with the owner set up, cloned for each test."""
    with tempfile.TemporaryDirectory(prefix="gk-faults-template-") as workdir:
        return prepare_template(postgres_server, Path(workdir))


@pytest.fixture
def stack(postgres_server, redis_server, template_database, tmp_path):
    """A fresh database and Redis, the stand-ins, and the processes the test starts."""
    if not redis_server.answering():  # a test that stopped Redis failed before restarting it
        redis_server.start()
    if not postgres_server.accepting():
        postgres_server.start()
    built = Stack(postgres=postgres_server, redis=redis_server, template=template_database, workdir=tmp_path)
    yield built
    built.close()
    for name in ("web", "worker", "sweeper"):
        output = built.log(name)
        if output:
            print(f"----- {name} log (tail) -----\n{output[-3000:]}")
