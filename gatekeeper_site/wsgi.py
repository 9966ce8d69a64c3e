"""WSGI entry point, for a pre-fork server in front of webhooks, admin and API."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gatekeeper_site.settings")
application = get_wsgi_application()
