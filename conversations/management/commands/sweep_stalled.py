import logging
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from conversations.sweeper import sweep_stalled_work

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Re-schedule work whose job vanished (Redis restart, killed worker). Run once, or --every N seconds."
    )

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=0, help="Keep sweeping every N seconds.")

    def handle(self, *args, every, **options):
        while True:
            if not every:
                self.stdout.write(f"swept: {sweep_stalled_work()}")
                return
            self.sweep_once()
            time.sleep(every)

    def sweep_once(self) -> None:
        """One round of the loop: an outage (database down) is logged and retried, never fatal."""
        close_old_connections()
        try:
            result = sweep_stalled_work()
        except Exception:
            logger.exception("sweep failed; trying again next round")
            self.stdout.write("sweep failed")
        else:
            self.stdout.write(f"swept: {result}")
        finally:
            close_old_connections()
