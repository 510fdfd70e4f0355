from django.core.management.base import BaseCommand

from clinic.demo import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Load the demo clinic (safe to run again: existing rows are left as they are)."

    def handle(self, *args, **options):
        created = seed_demo()
        summary = ", ".join(f"{count} {kind}" for kind, count in created.items())
        self.stdout.write(self.style.SUCCESS(f"Demo clinic ready (created {summary})."))
        self.stdout.write(
            f"Logins (password '{DEMO_PASSWORD}'): dr.osei (clinician), desk.kim (front desk), "
            "admin (clinic admin), patient01 (patient)."
        )
