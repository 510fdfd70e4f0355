from django.core.management.base import BaseCommand, CommandError

from treatments.services.reminder_planning import (
    PlanningFailed,
    replan_all_checkin_reminders,
    replan_all_due_reminders,
    replan_all_visit_reminders,
)


class Command(BaseCommand):
    help = (
        "Plan the reminders of every booked visit still ahead, as booking would, every "
        'active course\'s "due, not booked" reminder, as signing its last session would, and '
        "every recent signed session's check-in; rows already there stay as they are (with "
        "--replace-pending, visits' unsent ones are planned again)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size", type=int, default=20_000, help="visits per transaction (20,000)"
        )
        parser.add_argument(
            "--connections",
            type=int,
            default=None,
            help="database connections planning batches at once (REMINDER_PLANNING_CONNECTIONS; "
            "always 1 on SQLite)",
        )
        parser.add_argument(
            "--replace-pending",
            action="store_true",
            help="first delete the visits' reminders not yet sent nor claimed (pending, or "
            "skipped as late), so that new settings move them",
        )

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        if options["connections"] is not None and options["connections"] < 1:
            raise CommandError("--connections must be at least 1.")
        try:
            result = replan_all_visit_reminders(
                batch_size=options["batch_size"],
                replace_pending=options["replace_pending"],
                connections=options["connections"],
            )
        except PlanningFailed as failure:
            self._report(failure.result, options)
            for after, last, error in failure.result.failed:
                self.stderr.write(f"Visits with ids in ({after}, {last}] not planned: {error}")
            raise CommandError(
                f"{failure} The other batches are committed; run the command again to plan "
                "what is missing (rows already there are kept)."
            ) from failure
        self._report(result, options)
        due = replan_all_due_reminders()
        self.stdout.write(
            f'Planned {due.courses:,} active courses\' "due, not booked" reminders: '
            f"{due.inserted:,} new, {due.rows - due.inserted:,} already there; "
            f"{due.seconds:.1f} s."
        )
        checkins = replan_all_checkin_reminders()
        self.stdout.write(
            f"Planned {checkins.sessions:,} recent signed sessions' check-ins: "
            f"{checkins.inserted:,} new, {checkins.rows - checkins.inserted:,} already there; "
            f"{checkins.seconds:.1f} s."
        )

    def _report(self, result, options) -> None:
        rate = result.appointments / result.seconds if result.seconds else 0
        replaced = (
            f" ({result.replaced:,} unsent ones replaced)" if options["replace_pending"] else ""
        )
        self.stdout.write(
            f"Planned {result.appointments:,} booked visits in {result.batches:,} batches "
            f"on {result.connections} connection(s): {result.inserted:,} new reminders{replaced}, "
            f"{result.rows - result.inserted:,} already there; "
            f"{result.seconds:.1f} s ({rate:,.0f} visits/s)."
        )
