"""The process's layer loop: submitted work runs in order, never blocks the caller, and a stuck
layer's backlog is bounded (conversations/layer_loop.py)."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from conversations import layer_loop


def test_submitted_work_runs_in_the_order_it_was_submitted_even_when_earlier_work_waits():
    done: list[int] = []

    async def step(number: int) -> None:
        await asyncio.sleep(0.01 if number % 3 == 0 else 0)  # earlier work yields; later must not overtake
        done.append(number)

    for number in range(30):
        assert layer_loop.submit(step(number), timeout=10)
    layer_loop.drain(timeout=30)

    assert done == list(range(30))


def test_the_caller_does_not_wait_and_a_stuck_backlog_is_dropped_not_grown(monkeypatch, caplog):
    monkeypatch.setattr(layer_loop, "MAX_PENDING", 3)
    release = threading.Event()
    ran: list[int] = []

    async def stuck(number: int) -> None:
        while not release.is_set():
            await asyncio.sleep(0.005)
        ran.append(number)

    accepted = [layer_loop.submit(stuck(number), timeout=30) for number in range(5)]
    release.set()
    layer_loop.drain(timeout=30)

    assert accepted == [True, True, True, False, False]
    assert ran == [0, 1, 2]
    assert "backlog" in caplog.text


def test_work_running_past_its_time_is_cut_off_and_what_follows_still_runs(caplog):
    after: list[str] = []

    async def forever() -> None:
        await asyncio.Event().wait()

    async def next_one() -> None:
        after.append("ran")

    layer_loop.submit(forever(), timeout=0.05)
    layer_loop.submit(next_one(), timeout=10)
    layer_loop.drain(timeout=30)

    assert after == ["ran"]
    assert "TimeoutError" in caplog.text


def test_a_forked_child_gets_a_loop_of_its_own():
    parent_loop = layer_loop._current_loop()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child reports whether it got a working loop other than its parent's copy
        ok = layer_loop._current_loop() is not parent_loop and layer_loop.run(
            asyncio.sleep(0, "ok"), timeout=10
        )
        os.write(write, b"1" if ok == "ok" else b"0")
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(child, 0)
    assert os.read(read, 1) == b"1"
    assert status == 0


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs the Redis channel layer (REDIS_URL)")
def test_only_groups_someone_listens_to_are_rung():
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    prefix = f"test.listened.{os.getpid()}.{time.monotonic_ns()}"
    heard, empty, left = f"{prefix}.heard", f"{prefix}.empty", f"{prefix}.left"

    async def scenario() -> tuple[set[str], set[str]]:
        channel = await layer.new_channel()
        await layer.group_add(heard, channel)
        await layer.group_add(left, channel)
        await layer.group_discard(left, channel)
        before = await layer_loop.listened(layer, [heard, empty, left])
        await layer.group_discard(heard, channel)
        after = await layer_loop.listened(layer, [heard, empty, left])
        return before, after

    before, after = layer_loop.run(scenario(), timeout=30)

    assert before == {heard}
    assert after == set()


def test_a_layer_other_than_redis_is_asked_to_ring_every_group():
    from channels.layers import InMemoryChannelLayer

    assert layer_loop.run(layer_loop.listened(InMemoryChannelLayer(), ["a", "b"]), timeout=10) == {"a", "b"}
