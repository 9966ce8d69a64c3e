"""ASGI entry point: HTTP through Django, WebSockets through Channels, one port."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gatekeeper_site.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from channels_app.routing import websocket_urlpatterns  # noqa: E402
from channels_app.webchat.origins import AccountOriginValidator  # noqa: E402
from conversations.jobs import ThreadBackend, get_backend  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # AllowedHostsOriginValidator, widened per chat account by its `allowed_origins`.
        "websocket": AccountOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)

# In the embedded default (no REDIS_URL) jobs run in this process: start the worker thread
# now, so the sweeper recovers work left over from before a restart without waiting for traffic.
_jobs = get_backend()
if isinstance(_jobs, ThreadBackend):
    _jobs.start()
