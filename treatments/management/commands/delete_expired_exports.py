from django.core.management.base import BaseCommand

from treatments.tasks import delete_expired_exports_task


class Command(BaseCommand):
    help = "Delete the FHIR bulk exports past their expiry, files and jobs (what beat runs hourly)."

    def handle(self, *args, **options):
        deleted = delete_expired_exports_task()
        self.stdout.write(f"Deleted {deleted} expired export{'s' if deleted != 1 else ''}.")
