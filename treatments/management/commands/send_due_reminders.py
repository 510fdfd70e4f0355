from django.core.management.base import BaseCommand

from treatments.services.reminders import dispatch_due_reminders


class Command(BaseCommand):
    help = "Claim due reminders and queue their sends (what beat runs every minute)."

    def handle(self, *args, **options):
        claimed = dispatch_due_reminders()
        self.stdout.write(f"Queued {claimed} reminder{'s' if claimed != 1 else ''}.")
