"""The test run's clock, shared with the processes a test starts.

`CADENCE_TEST_NOW` (an ISO 8601 instant with its offset, e.g. `2026-11-29T15:00:00Z`) moves the
whole run to that instant with time-machine; the clock then ticks on from there. A Celery worker
or beat that a test starts runs through this module (`python -m tests.clock celery ...`) with
`handoff()` in its environment: the test process's time and the real time at the hand-over, so
the child travels to the same moved (or pinned) clock, its start-up time included.
"""

import datetime
import os
import runpy
import sys
import time

import time_machine

VARIABLE = "CADENCE_TEST_NOW"
HANDED_OVER_AT = "CADENCE_TEST_NOW_HANDED_OVER_AT"  # the real epoch time of the hand-over


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


def handoff() -> dict[str, str]:
    """The environment that gives a child process this process's clock."""
    hatch = time_machine.escape_hatch
    real = hatch.time.time() if hatch.is_travelling() else time.time()
    return {VARIABLE: datetime.datetime.now(datetime.UTC).isoformat(), HANDED_OVER_AT: repr(real)}


if __name__ == "__main__":
    # python -m tests.clock MODULE ARGS...: run MODULE as __main__ on the handed-over clock.
    if os.environ.get(VARIABLE):
        instant = parse(os.environ[VARIABLE])
        if os.environ.get(HANDED_OVER_AT):  # the time since the hand-over, as the parent saw it
            instant += datetime.timedelta(seconds=time.time() - float(os.environ[HANDED_OVER_AT]))
        time_machine.travel(instant, tick=True).start()
    sys.argv = sys.argv[1:]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
