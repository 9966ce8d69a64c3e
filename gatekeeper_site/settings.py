"""Gatekeeper settings: every value comes from the environment or `.env`, read here only."""

import os
import secrets
import warnings
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# `.env` beside manage.py, or the file GATEKEEPER_ENV_FILE names; set to "" it reads none (the test
# settings do, so a developer's `.env` never changes what the suite checks).
ENV_FILE = os.environ.get("GATEKEEPER_ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE:
    environ.Env.read_env(ENV_FILE, overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Put SECRET_KEY=<a long random string> in the environment or "
            "in .env (`make run` writes one for you), or set DEBUG=true for local experiments."
        )
    # Never a constant: a key of this process only, so sessions and visitor tokens end with it.
    SECRET_KEY = secrets.token_urlsafe(50)
    warnings.warn(
        "SECRET_KEY is not set: DEBUG uses a random key for this process only (logins and web-chat "
        "visitors are forgotten at restart, and other processes cannot read what it signed). "
        "Set SECRET_KEY in .env to keep them.",
        RuntimeWarning,
        stacklevel=1,
    )

PORT = env.int("PORT", default=8000)
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default=f"http://127.0.0.1:{PORT}").rstrip("/")
_public = urlsplit(PUBLIC_BASE_URL)
_public_host = _public.hostname or "localhost"
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", _public_host])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[f"{_public.scheme}://{_public.netloc}"])
# Behind a TLS-terminating proxy, trust its scheme header so absolute URLs say https. Only the
# proxies in TRUSTED_PROXIES may send it: gatekeeper_site.proxies drops it from any other peer first.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Production (DEBUG off, an https PUBLIC_BASE_URL): https only, said to browsers by HSTS, cookies
# never sent over http. deploy/README.md explains each setting.
HTTPS_ONLY = not DEBUG and _public.scheme == "https"
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS_ONLY)
# A monitor or the proxy probes http://127.0.0.1:8000/healthz directly, without X-Forwarded-Proto;
# Prometheus on the same machine scrapes /metrics the same way.
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^metrics/?$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600 if HTTPS_ONLY else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS_ONLY

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by us: /api/docs/ works offline
    "channels",
    "django_rq",
    "axes",
    "ai",
    "conversations",
    "channels_app",
]

MIDDLEWARE = [
    "gatekeeper_site.proxies.ForwardedHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "gatekeeper_site.urls"
ASGI_APPLICATION = "gatekeeper_site.asgi.application"
WSGI_APPLICATION = "gatekeeper_site.wsgi.application"
AUTH_USER_MODEL = "conversations.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
VAR_DIR = Path(env("GATEKEEPER_VAR_DIR", default=str(BASE_DIR / "var")))
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'gatekeeper.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the in-process worker write while requests read; IMMEDIATE avoids
    # "database is locked" on read-then-write transactions.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif env.bool("DATABASE_POOL", default=True):
    # Under ASGI every request thread would keep its own persistent connection and
    # exhaust PostgreSQL; the psycopg pool bounds them.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # With a pool, Django has psycopg check each connection as it leaves the pool: after
    # PostgreSQL restarts, the stale ones are replaced instead of failing a request each.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env.int("DATABASE_POOL_SIZE", default=20),
        "timeout": 10,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Jobs: RQ on Redis when REDIS_URL is set, else in process --------------------------------
REDIS_URL = env("REDIS_URL", default="")
RQ_QUEUE = env("GATEKEEPER_QUEUE", default="default")
RQ_QUEUES = {RQ_QUEUE: {"URL": REDIS_URL or "redis://127.0.0.1:6379/0", "DEFAULT_TIMEOUT": 300}}
GATEKEEPER_JOBS = {
    # A short name (rq, thread, locmem) or a dotted path; checked at start-up (conversations.E001).
    "BACKEND": env("GATEKEEPER_JOBS_BACKEND", default="rq" if REDIS_URL else "thread"),
    "OPTIONS": {
        "queue": RQ_QUEUE,
        # Jump the queue: webhook deliveries to store, decided replies and the owner's notifications.
        "urgent": [
            "conversations.tasks.ingest_deliveries",
            "conversations.tasks.send_pending",
            "conversations.tasks.notify_owner",
            "conversations.tasks.notify_owner_digest",
            "conversations.tasks.run_owner_command",
            "conversations.tasks.send_owner_notices",
            "conversations.tasks.notify_owner_draft",
        ],
    },
}
# Messages from one provider arriving within this window get one reply.
REPLY_BURST_SECONDS = env.float("REPLY_BURST_SECONDS", default=3.0)
# A job that has not run this long after it was due is considered lost and re-scheduled.
STALLED_WORK_SECONDS = env.float("STALLED_WORK_SECONDS", default=30.0)

# --- Channel layer (web chat) ---------------------------------------------------------------
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_app.webchat.layer.WaitingRedisChannelLayer",
            "CONFIG": {
                # redis-py 8 reads with a 5 s timeout, as long as channels_redis's blocking receive
                # (receives then fail under load): give it room. The pool waits up to `timeout`
                # seconds for a free connection when a burst of sockets opens or closes at once.
                "hosts": [
                    {"address": REDIS_URL, "socket_timeout": 15, "max_connections": 100, "timeout": 20}
                ],
                # Processes that share a prefix share groups; tests and staging use one of their own.
                "prefix": env("CHANNEL_LAYER_PREFIX", default="asgi"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Cache (web-chat rate limits): shared by every process through Redis when there is one ---
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="gatekeeper"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Web chat ---------------------------------------------------------------------------------
# The slug of the chat page `gatekeeper_setup` creates: /chat/<slug>/ and WS /ws/chat/<slug>/.
WEBCHAT_SLUG = env("WEBCHAT_SLUG", default="chat")
# Sites allowed to embed the widget (set on the account by `gatekeeper_setup` when given).
WEBCHAT_ALLOWED_ORIGINS = env.list("WEBCHAT_ALLOWED_ORIGINS", default=[])
WEBCHAT_MAX_TEXT_LENGTH = env.int("WEBCHAT_MAX_TEXT_LENGTH", default=2000)
# Messages per visitor and per client address ("20/m": per second s, minute m, hour h, day d).
WEBCHAT_VISITOR_RATE = env("WEBCHAT_VISITOR_RATE", default="20/m")
WEBCHAT_ADDRESS_RATE = env("WEBCHAT_ADDRESS_RATE", default="60/m")
# New visitors one chat page takes per minute (a flood of fresh visitors is refused with a 429).
WEBCHAT_NEW_VISITOR_RATE = env("WEBCHAT_NEW_VISITOR_RATE", default="20/m")
# Peers whose X-Forwarded-For is believed (the reverse proxy in front of gunicorn and daphne).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=["127.0.0.1", "::1"])

# At most one notification email per owner in this many seconds; the rest wait for a digest.
NOTIFY_EMAIL_INTERVAL = env.float("NOTIFY_EMAIL_INTERVAL", default=300.0)
# Messages in the history frame; a visitor token is valid this long after its last use.
WEBCHAT_HISTORY_LIMIT = env.int("WEBCHAT_HISTORY_LIMIT", default=200)
WEBCHAT_TOKEN_MAX_AGE = env.int("WEBCHAT_TOKEN_MAX_AGE", default=90 * 24 * 3600)

# --- Providers (the edges in channels_app) --------------------------------------------------
OUTBOUND_HTTP_TIMEOUT = env.float("OUTBOUND_HTTP_TIMEOUT", default=10.0)
WHATSAPP_VERIFY_TOKEN = env("WHATSAPP_VERIFY_TOKEN", default="")
WHATSAPP_APP_SECRET = env("WHATSAPP_APP_SECRET", default="")
WHATSAPP_API_TOKEN = env("WHATSAPP_API_TOKEN", default="")
WHATSAPP_PHONE_NUMBER_ID = env("WHATSAPP_PHONE_NUMBER_ID", default="")
WHATSAPP_GRAPH_API_URL = env("WHATSAPP_GRAPH_API_URL", default="https://graph.facebook.com/v25.0").rstrip("/")
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", default="")
TWILIO_WHATSAPP_NUMBER = env("TWILIO_WHATSAPP_NUMBER", default="")
TWILIO_API_BASE_URL = env("TWILIO_API_BASE_URL", default="").rstrip("/")
# Only for webhooks signed with a Twilio SharedKey (they carry X-Twilio-Webhooks-Signature-Settings).
TWILIO_WEBHOOK_SIGNING_KEY = env("TWILIO_WEBHOOK_SIGNING_KEY", default="")
# Phone calls (Twilio Voice): the owner's voice number, linked by gatekeeper_setup; the engine's deadline
# while a caller waits on the line; turns per call and characters per turn before a message is taken.
TWILIO_VOICE_NUMBER = env("TWILIO_VOICE_NUMBER", default="")
CALL_ENGINE_TIMEOUT = env.float("CALL_ENGINE_TIMEOUT", default=4.0)
CALL_MAX_TURNS = env.int("CALL_MAX_TURNS", default=5)
CALL_TURN_MAX_CHARS = env.int("CALL_TURN_MAX_CHARS", default=1000)
# Webhook bodies larger than this are refused (Meta's documented maximum is 3 MB).
WEBHOOK_MAX_BYTES = 3 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = WEBHOOK_MAX_BYTES + 1024

# The class that sends for each channel (a dotted path, checked at start-up: conversations.E002).
# Providers read their credentials and URLs from the settings above when they send. Without them a
# WhatsApp channel prints its replies instead of sending them (like the console email backend).
CHANNEL_PROVIDERS = {
    "whatsapp": "channels_app.whatsapp.provider.MetaWhatsAppProvider"
    if WHATSAPP_API_TOKEN
    else "channels_app.console.ConsoleProvider",
    # WhatsApp through Twilio: the account's number is the sender, statuses come back to /webhook/twilio/status.
    "twilio": "channels_app.twilio.provider.TwilioWhatsAppProvider"
    if TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN
    else "channels_app.console.ConsoleProvider",
    # Replies are already in the database; the provider rings the visitor's open pages.
    "webchat": "channels_app.webchat.provider.WebChatProvider",
    # Calls are answered on the line (TwiML); a text to a caller afterwards is refused, never sent.
    "voice": "channels_app.twilio.voice.provider.VoiceProvider",
}

# --- AI engines -----------------------------------------------------------------------------
# AI_PROVIDER is AI_ENGINE's former name: read for one release, with check ai.W001 naming the new one.
AI_PROVIDER = env("AI_PROVIDER", default="")
# The engine that drafts replies: one of AI_ENGINES (check ai.E001 stops a wrong name at start-up).
AI_ENGINE = env("AI_ENGINE", default="") or AI_PROVIDER or "rules"
AI_ENGINES = {
    "rules": {"BACKEND": "ai.engines.rules.RulesEngine"},
    "openai": {
        "BACKEND": "ai.engines.openai.OpenAIEngine",
        "OPTIONS": {
            "api_key": env("OPENAI_API_KEY", default=""),
            "base_url": env("OPENAI_BASE_URL", default="") or None,
            "model": env("OPENAI_MODEL", default="gpt-4o-mini"),
            "timeout": env.float("OPENAI_TIMEOUT", default=30.0),
        },
    },
    "scripted": {
        "BACKEND": "ai.engines.scripted.ScriptedEngine",
        "OPTIONS": {"script_path": env("AI_SCRIPT_PATH", default="")},
    },
}
# Seconds between draft attempts while the engine fails; the owner is told at the third
# failure (about 20 s in with these), and the turn is escalated once they run out.
ENGINE_RETRY_BACKOFF = tuple(
    env.list("ENGINE_RETRY_BACKOFF", cast=float, default=[5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600])
)
# Engine calls one process (an RQ worker, or the embedded server) keeps in flight at once
# (conversations/draft_pool.py): a worker does not wait for one model answer before asking the next.
ENGINE_CONCURRENCY = env.int("ENGINE_CONCURRENCY", default=32)
if ENGINE_CONCURRENCY < 1:
    raise ImproperlyConfigured(f"ENGINE_CONCURRENCY={ENGINE_CONCURRENCY} must be 1 or more.")

# --- Owner set up by `make run` --------------------------------------------------------------
GATEKEEPER_OWNER = env("GATEKEEPER_OWNER", default="owner")
GATEKEEPER_PASSWORD = env("GATEKEEPER_PASSWORD", default="")

# --- Email (escalations) --------------------------------------------------------------------
# EMAIL_URL alone says where mail goes (smtp+tls://user:pass@host:587, filemail:///path, ...);
# unset, emails are printed in the log.
_email = env.email_url("EMAIL_URL", default="consolemail://")
# The former EMAIL_BACKEND variable (a dotted path) still picks the backend in this release when
# EMAIL_URL is unset, with check conversations.W002 naming EMAIL_URL.
LEGACY_EMAIL_BACKEND = "" if env("EMAIL_URL", default="") else env("EMAIL_BACKEND", default="")
EMAIL_BACKEND = LEGACY_EMAIL_BACKEND or _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
EMAIL_PORT = _email["EMAIL_PORT"] or 25
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_FILE_PATH = _email["EMAIL_FILE_PATH"]
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="gatekeeper@localhost")
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)

# --- Logins: failed attempts limited (django-axes) ------------------------------------------
# The admin login (and anything else that calls `authenticate` with a request) is refused for
# LOGIN_LOCKOUT_MINUTES after LOGIN_FAILURE_LIMIT failures of one username from one address (the
# address read through TRUSTED_PROXIES): a stranger cannot lock the owner out from elsewhere.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Counted in the shared cache when there is Redis, else in the database (a per-process cache
# would count each process's failures apart).
AXES_HANDLER = (
    "axes.handlers.cache.AxesCacheHandler" if REDIS_URL else "axes.handlers.database.AxesDatabaseHandler"
)
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_LOCKOUT_MINUTES", default=15.0))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Not its start-up banner on every manage.py command; failed logins are still logged.
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "gatekeeper_site.proxies.request_client_address"

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Gatekeeper API",
    "DESCRIPTION": "Review drafts, steer conversations and edit the rules of your gatekeeper.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# --- Internationalisation, static files -----------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Operations: /metrics and the logs -----------------------------------------------------------
# A scraper sends `Authorization: Bearer <METRICS_TOKEN>`; unset, only an operator's session reads /metrics.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# `text` (default) or `json`: one JSON object per line. Either way secrets are redacted (gatekeeper_site.logs).
LOG_FORMAT = env("LOG_FORMAT", default="text").strip().lower()
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} is not 'text' or 'json'.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "gatekeeper_site.logs.RedactSecrets"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
            "json_encoder": "ext://gatekeeper_site.logs.RedactingJsonEncoder",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Through the root's handler only (Django's own would print DEBUG lines twice, unformatted).
        "django": {"handlers": [], "level": "INFO"},
        "httpx": {"level": "WARNING"},
        "openai": {"level": "WARNING"},
        # The SDK logs every request's headers at INFO.
        "twilio.http_client": {"level": "WARNING"},
    },
}
