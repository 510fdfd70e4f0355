from django.core.management.base import BaseCommand

from treatments.tasks import sweep_freed_slots_task


class Command(BaseCommand):
    help = (
        "Offer to the waitlist the slots freed in the last WAITLIST_SWEEP_HOURS that have no "
        "offer yet (what beat runs every WAITLIST_SWEEP_MINUTES)."
    )

    def handle(self, *args, **options):
        offers = sweep_freed_slots_task()
        self.stdout.write(f"Made {offers} offer{'s' if offers != 1 else ''}.")
