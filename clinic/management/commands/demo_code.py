from django.core.management.base import BaseCommand

from clinic.mfa import DEMO_TOTP_SECRET, current_code


class Command(BaseCommand):
    help = (
        "Print the current second-factor code of the demo staff accounts (the demo's published "
        "TOTP secret; real accounts have their own)."
    )

    def handle(self, *args, **options):
        self.stdout.write(current_code(DEMO_TOTP_SECRET))
