"""The review dashboard in Django's admin: the queue first, conversations as chats, everything owner-scoped.

Importing this package registers every model admin (Django's autodiscovery imports it).
"""

from conversations.admin import owner_config, records, review, tools

__all__ = ["owner_config", "records", "review", "tools"]
