"""The test run's clock, shared with the processes a test starts.

`CADENCE_TEST_NOW` (an ISO 8601 instant with its offset, e.g. `2026-11-29T15:00:00Z`) moves the
whole run to that instant with time-machine; the clock then ticks on from there. A Celery worker
or beat that a test starts runs through this module (`python -m tests.clock celery ...`) and is
handed the test process's `timezone.now()` at the moment it starts, so both sides read the same
moved (or pinned) clock, within the worker's start-up time.
"""

import datetime
import os
import runpy
import sys

import time_machine

VARIABLE = "CADENCE_TEST_NOW"


def parse(value: str) -> datetime.datetime:
    instant = datetime.datetime.fromisoformat(value)
    if instant.tzinfo is None:
        raise ValueError(f"{VARIABLE}={value!r} needs a UTC offset, e.g. 2026-11-29T15:00:00Z")
    return instant


def travel_to(value: str) -> time_machine.travel:
    """Move this process's clock to `value`; it ticks on from there."""
    traveller = time_machine.travel(parse(value), tick=True)
    traveller.start()
    return traveller


if __name__ == "__main__":
    # python -m tests.clock MODULE ARGS...: run MODULE as __main__ at $CADENCE_TEST_NOW.
    if os.environ.get(VARIABLE):
        travel_to(os.environ[VARIABLE])
    sys.argv = sys.argv[1:]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
