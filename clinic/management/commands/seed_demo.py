from django.core.management.base import BaseCommand

from clinic.demo import DEMO_PASSWORD, seed_demo
from clinic.mfa import DEMO_TOTP_SECRET
from clinic.models import User


class Command(BaseCommand):
    help = "Load the demo clinic (safe to run again: existing rows are left as they are)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Only into a database without users (`make run`: a new or emptied database "
            "gets the demo, one in use is left alone).",
        )

    def handle(self, *args, **options):
        if options["if_empty"] and User.objects.exists():
            self.stdout.write("The database has users already: the demo clinic is not loaded.")
            return
        created = seed_demo()
        summary = ", ".join(f"{count} {kind}" for kind, count in created.items())
        self.stdout.write(self.style.SUCCESS(f"Demo clinic ready (created {summary})."))
        self.stdout.write(
            f"Logins (password '{DEMO_PASSWORD}'): dr.osei (clinician), desk.kim (front desk), "
            "admin (clinic admin), patient01 (patient)."
        )
        self.stdout.write(
            f"Demo staff pass the second step with a code from an authenticator app set up with "
            f"the demo-only secret {DEMO_TOTP_SECRET} (or: python manage.py demo_code)."
        )
