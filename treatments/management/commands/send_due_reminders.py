from django.core.management.base import BaseCommand

from treatments.tasks import dispatch_reminders_task


class Command(BaseCommand):
    help = "Claim due reminders and queue their sends (what beat runs every minute)."

    def handle(self, *args, **options):
        claimed = dispatch_reminders_task()
        self.stdout.write(f"Queued {claimed} reminder{'s' if claimed != 1 else ''}.")
