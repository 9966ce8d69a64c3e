from django.apps import AppConfig
from django.db.backends.signals import connection_created


class ConversationsConfig(AppConfig):
    name = "conversations"
    verbose_name = "Gatekeeper"

    def ready(self) -> None:
        """Register the start-up checks; a SQLite database holds secrets: owner-only as soon as it is opened."""
        from conversations import checks  # noqa: F401  (registers the backend settings' checks)
        from conversations.files import protect_sqlite

        connection_created.connect(protect_sqlite, dispatch_uid="conversations.files.protect_sqlite")
