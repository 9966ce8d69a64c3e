import time

from django.core.management.base import BaseCommand

from conversations.sweeper import sweep_stalled_work


class Command(BaseCommand):
    help = (
        "Re-schedule work whose job vanished (Redis restart, killed worker). Run once, or --every N seconds."
    )

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=0, help="Keep sweeping every N seconds.")

    def handle(self, *args, every, **options):
        while True:
            result = sweep_stalled_work()
            self.stdout.write(f"swept: {result}")
            if not every:
                return
            time.sleep(every)
