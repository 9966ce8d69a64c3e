from django.apps import AppConfig
from django.db.backends.signals import connection_created


class ConversationsConfig(AppConfig):
    name = "conversations"
    verbose_name = "Gatekeeper"

    def ready(self) -> None:
        """A SQLite database holds secrets: it is made readable by its owner only as soon as it is opened."""
        from conversations.files import protect_sqlite

        connection_created.connect(protect_sqlite, dispatch_uid="conversations.files.protect_sqlite")
