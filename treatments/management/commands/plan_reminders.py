from django.core.management.base import BaseCommand, CommandError

from treatments.services.reminder_planning import replan_all_visit_reminders


class Command(BaseCommand):
    help = (
        "Plan the reminders of every booked visit still ahead, as booking would: existing rows "
        "stay as they are. Run it after changing the reminder settings."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size", type=int, default=5000, help="visits per transaction (5000)"
        )

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        result = replan_all_visit_reminders(batch_size=options["batch_size"])
        rate = result.appointments / result.seconds if result.seconds else 0
        self.stdout.write(
            f"Planned {result.appointments:,} booked visits in {result.batches:,} batches: "
            f"{result.inserted:,} new reminders, {result.rows - result.inserted:,} already there; "
            f"{result.seconds:.1f} s ({rate:,.0f} visits/s)."
        )
