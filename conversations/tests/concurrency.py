"""Racing real workers in tests: each call in a thread (a database connection) of its own."""

from __future__ import annotations

import threading

from django.db import connection


def run_at_once(*calls: tuple) -> list[BaseException]:
    """Run each `(function, *args)` in a thread of its own (a connection of its own), all released at once."""
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def work(function, *args):
        barrier.wait()
        try:
            function(*args)
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=call) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
