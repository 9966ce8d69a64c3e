"""Many engine calls in flight at once, every database write on a drafting thread (issue 16).

A model takes seconds to answer; a worker that waits for each in turn answers a burst of
forty companies in a minute. Here drafting threads claim turns (`drafting.begin`), hands
the engine calls to this process's pool of at most `settings.ENGINE_CONCURRENCY` threads,
and record each outcome as it comes back (`drafting.answer`). The engine threads never
touch the database (the `ai` package cannot), so the invariants of the flow
(docs/architecture.md, 5 to 8) hold exactly as when one call ran at a time: the claim and the
record are the same short locked transactions, and a takeover that lands while the model is
thinking still wins.

Two ways in:

- `draft_all(ids)` drafts on the calling thread and returns once every turn is recorded: the
  in-process job runners (the embedded thread, the tests' recorded jobs).
- `hand_off(ids)` gives the conversations to this process's drafting threads and returns at
  once, so an RQ worker takes its next job while the model thinks. It waits only while the
  process already holds twice `ENGINE_CONCURRENCY` conversations, leaving the rest of the
  queue to other workers. A conversation handed off stays due in the database until its outcome is
  recorded: should the process die, the sweeper schedules it again (invariant 7).
"""

from __future__ import annotations

import atexit
import itertools
import logging
import queue
import threading
from collections.abc import Iterable
from concurrent.futures import Future

from django.conf import settings
from django.db import close_old_connections

from ai.engines import get_client
from conversations import drafting

logger = logging.getLogger(__name__)

#: How long a worker that is told to stop waits for the calls it holds (beyond the engine's timeout
#: they fail anyway, and the sweeper re-schedules what was not recorded).
DRAIN_SECONDS = 60.0
#: Threads of a queue worker that claim turns and record outcomes (each with its own connection).
DRAFTING_THREADS = 4
#: Conversations a queue worker holds per engine call it may run: the next calls are ready while
#: outcomes are recorded, and the rest of a burst stays in the queue for the other workers.
HELD_PER_CALL = 2


def concurrency() -> int:
    """Engine calls one process keeps in flight at most."""
    return max(1, int(settings.ENGINE_CONCURRENCY))


class EnginePool:
    """Threads that run engine calls, `size` at once; the rest wait their turn in order.

    Not a ThreadPoolExecutor: that one refuses new calls once the interpreter starts to exit,
    and a worker that is stopping still finishes the conversations it holds (`drafter()`).
    """

    def __init__(self, size: int) -> None:
        self.calls: queue.SimpleQueue = queue.SimpleQueue()
        for number in range(size):
            threading.Thread(target=self._run, name=f"gatekeeper-engine-{number}", daemon=True).start()

    def submit(self, function, *args) -> Future:
        """Run `function(*args)` on one of the threads; its future."""
        call: Future = Future()
        self.calls.put((call, function, args))
        return call

    def _run(self) -> None:
        while True:
            call, function, args = self.calls.get()
            if not call.set_running_or_notify_cancel():
                continue
            try:
                call.set_result(function(*args))
            except BaseException as exc:
                call.set_exception(exc)


_pools: dict[int, EnginePool] = {}
_pools_lock = threading.Lock()


def engine_pool() -> EnginePool:
    """This process's engine threads: at most `concurrency()` calls run at once, the rest wait their turn."""
    size = concurrency()
    with _pools_lock:
        if size not in _pools:
            _pools[size] = EnginePool(size)
        return _pools[size]


class Events:
    """What the drafting thread does next: a turn to begin before an answer to record, so the engine
    is never idle while outcomes are being written."""

    def __init__(self) -> None:
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()

    def put(self, event: int | Future) -> None:
        self._queue.put((isinstance(event, Future), next(self._order), event))

    def get(self) -> int | Future:
        return self._queue.get()[2]

    def empty(self) -> bool:
        return self._queue.empty()


class Drafts:
    """Turns whose engine call is in flight; the thread (or threads) driving it do all the database work."""

    def __init__(self) -> None:
        self.events = Events()  # conversation ids to begin (first), calls that ended
        self.asking: dict[Future, drafting.Turn] = {}
        self.failures: list[Exception] = []

    def begin(self, conversation_id: int) -> bool:
        """Claim the turn and ask the engine; false when the turn needed no call (or failed before it)."""
        try:
            turn = drafting.begin(conversation_id)
            if turn is None:
                return False
            call = engine_pool().submit(get_client().generate, turn.context)
        except Exception as exc:  # the turn stays due: a retry or the sweeper drafts it again
            self._failed(conversation_id, exc)
            return False
        self.asking[call] = turn
        call.add_done_callback(self.events.put)
        return True

    def finish(self, call: Future) -> int:
        """Record the outcome of one engine call; the conversation's id."""
        turn = self.asking.pop(call)
        conversation_id = turn.conversation.pk
        try:
            exc = call.exception()
            if exc is not None:
                drafting.engine_failed(turn, exc)
            else:
                drafting.answer(turn, call.result())
        except Exception as exc:
            self._failed(conversation_id, exc)
        return conversation_id

    def _failed(self, conversation_id: int, exc: Exception) -> None:
        logger.exception(
            "drafting for conversation %s failed; the sweeper will retry it", conversation_id, exc_info=exc
        )
        self.failures.append(exc)


def draft_all(conversation_ids: Iterable[int]) -> list[Exception]:
    """Draft each conversation, the engine calls together; returns the failures once all are recorded."""
    drafts = Drafts()
    for conversation_id in dict.fromkeys(conversation_ids):
        drafts.begin(conversation_id)
    while drafts.asking:
        drafts.finish(drafts.events.get())
    return drafts.failures


class Drafter(Drafts):
    """This process's drafting threads: take conversations from the jobs, keep their calls in flight.

    A turn's database work is a few dozen short queries, mostly waiting on the database: several
    drafting threads (each with its own connection) keep a burst from queueing behind them.
    """

    def __init__(self, threads: int = DRAFTING_THREADS) -> None:
        super().__init__()
        self.held: set[int] = set()  # handed off, outcome not yet recorded
        self.changed = threading.Condition()
        self.size = threads
        self.threads: list[threading.Thread] = []

    def hand_off(self, conversation_ids: Iterable[int]) -> None:
        """Take the conversations (one already held is not taken twice); wait while the process is full."""
        limit = HELD_PER_CALL * concurrency()
        for conversation_id in conversation_ids:
            with self.changed:
                self.changed.wait_for(lambda c=conversation_id: c in self.held or len(self.held) < limit)
                if conversation_id in self.held:
                    continue  # a duplicated job, or the sweeper, while the first is still drafting
                self.held.add(conversation_id)
                self._start()
            self.events.put(conversation_id)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every conversation handed off is recorded; false on timeout."""
        with self.changed:
            return self.changed.wait_for(lambda: not self.held, timeout=timeout)

    def _start(self) -> None:
        self.threads = [thread for thread in self.threads if thread.is_alive()]
        while len(self.threads) < self.size:
            thread = threading.Thread(target=self._serve, name="gatekeeper-drafter", daemon=True)
            thread.start()
            self.threads.append(thread)

    def _serve(self) -> None:
        while True:
            if self.events.empty():
                close_old_connections()  # idle: give the connection back to the pool
            event = self.events.get()
            try:
                if isinstance(event, Future):
                    self._done(self.finish(event))
                elif not self.begin(event):
                    self._done(event)
            except Exception:  # never let the thread die: the conversation stays due for the sweeper
                logger.exception("the drafting thread failed on %r", event)
                self._done(event if isinstance(event, int) else None)

    def _failed(self, conversation_id: int, exc: Exception) -> None:
        logger.exception(
            "drafting for conversation %s failed; the sweeper will retry it", conversation_id, exc_info=exc
        )

    def _done(self, conversation_id: int | None) -> None:
        with self.changed:
            self.held.discard(conversation_id)
            self.changed.notify_all()


_drafter: Drafter | None = None
_drafter_lock = threading.Lock()


def drafter() -> Drafter:
    """This process's drafting threads, created on first use; a stopping process waits for its calls."""
    global _drafter
    with _drafter_lock:
        if _drafter is None:
            _drafter = Drafter()
            # Before the interpreter's own thread pools shut down (asgiref's carries the live events
            # of the replies still to record): threading's exit hooks run before those of atexit.
            register = getattr(threading, "_register_atexit", atexit.register)
            register(_drafter.wait_idle, DRAIN_SECONDS)
        return _drafter


def hand_off(conversation_ids: Iterable[int]) -> None:
    """Give the conversations to this process's drafting thread (see the module's docstring)."""
    drafter().hand_off(conversation_ids)
