from django.core.management.base import BaseCommand

from treatments.tasks import delete_expired_short_links_task


class Command(BaseCommand):
    help = "Delete the text messages' short links past their expiry (what beat runs daily)."

    def handle(self, *args, **options):
        deleted = delete_expired_short_links_task()
        self.stdout.write(f"Deleted {deleted} expired short link{'s' if deleted != 1 else ''}.")
