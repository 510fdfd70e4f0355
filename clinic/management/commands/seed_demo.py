from django.core.management.base import BaseCommand

from clinic.demo import DEMO_PASSWORD, seed_demo
from clinic.mfa import DEMO_TOTP_SECRET


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
        self.stdout.write(
            f"Demo staff pass the second step with a code from an authenticator app set up with "
            f"the demo-only secret {DEMO_TOTP_SECRET} (or: python manage.py demo_code)."
        )
