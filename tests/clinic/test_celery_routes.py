"""A queue per kind of work (docs/scaling.md): the reminders on CELERY_REMINDERS_QUEUE when it is
set, everything else on the default queue; the worker that `make run` and docker compose start
consumes every queue the settings route to."""

import functools
import json
import re
import subprocess

import pytest

from tests.clinic.test_settings import PRODUCTION, manage
from tests.conftest import BASE_DIR

TASKS = (
    "treatments.tasks.dispatch_reminders_task",
    "treatments.tasks.send_reminder_task",
    "clinic.tasks.clear_expired_sessions_task",
)
SHOW_QUEUES = (
    "import json; from clinic.celery import app; "
    f"print(json.dumps([app.amqp.router.route({{}}, name)['queue'].name for name in {TASKS!r}]))"
)
QUEUE_VARIABLES = ("CELERY_TASK_DEFAULT_QUEUE", "CELERY_REMINDERS_QUEUE")


def routed_queues(**queues: str) -> list[str]:
    """The queue of each of TASKS, as a process started with these variables routes them."""
    return list(_routed_queues(tuple(sorted(queues.items()))))


@functools.cache  # a Django start per set of variables, not per test
def _routed_queues(queues: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    env = PRODUCTION | dict.fromkeys(QUEUE_VARIABLES, "") | dict(queues)
    result = manage("shell", "-c", SHOW_QUEUES, extra_env=env)
    assert result.returncode == 0, result.stderr
    return tuple(json.loads(result.stdout.splitlines()[-1]))


def test_with_a_reminders_queue_the_reminders_go_there_and_the_rest_to_the_default():
    assert routed_queues(CELERY_REMINDERS_QUEUE="reminders") == [
        "reminders",
        "reminders",
        "cadence",
    ]


def test_without_one_every_task_is_on_the_default_queue_whatever_its_name():
    # A worker started on the default queue alone (the tests' workers) still gets the reminders.
    assert routed_queues() == ["cadence"] * 3
    assert routed_queues(CELERY_TASK_DEFAULT_QUEUE="test-1a2b") == ["test-1a2b"] * 3


def worker_queues(command: str, env: dict[str, str]) -> set[str]:
    """The queues a worker command line names, as its shell expands them in `env`."""
    argument = re.search(r'--queues\s+("[^"]*"|\S+)', command)
    assert argument is not None, command
    expanded = subprocess.run(
        ["sh", "-c", f"printf %s {argument.group(1)}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(expanded.split(","))


def procfile_worker() -> str:
    return (BASE_DIR / "Procfile").read_text().split("worker:", 1)[1].splitlines()[0]


def compose_worker() -> str:
    text = (BASE_DIR / "docker-compose.yml").read_text()
    service = text.split("\n  worker:\n", 1)[1].split("\n  beat:\n", 1)[0]
    return service.replace("$$", "$")  # compose's escape for a literal $


@pytest.mark.parametrize("command", [procfile_worker, compose_worker], ids=["Procfile", "compose"])
@pytest.mark.parametrize(
    "queues",
    [{}, {"CELERY_REMINDERS_QUEUE": "reminders"}, {"CELERY_TASK_DEFAULT_QUEUE": "clinic-7"}],
    ids=["nothing set", "reminders apart", "default renamed"],
)
def test_the_worker_consumes_every_queue_the_settings_route_to(command, queues):
    assert worker_queues(command(), queues) == set(routed_queues(**queues))


def test_with_quorum_queues_the_routed_queue_is_a_quorum_queue_too():
    env = PRODUCTION | {
        "CELERY_BROKER_URL": "amqp://guest@rabbitmq.invalid//",
        "CELERY_TASK_DEFAULT_QUEUE_TYPE": "quorum",
        "CELERY_REMINDERS_QUEUE": "reminders",
    }
    show = SHOW_QUEUES.replace("['queue'].name", "['queue'].queue_arguments")
    result = manage("shell", "-c", show, extra_env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == [{"x-queue-type": "quorum"}] * 3
