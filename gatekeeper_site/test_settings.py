"""Settings for the test suite: the production settings with test doubles chosen explicitly."""

import os
import tempfile

# A developer's `.env` (AI_PROVIDER=openai, a burst window, ...) must not change what the suite checks;
# set in the environment, so child processes started with these settings read none either.
os.environ["GATEKEEPER_ENV_FILE"] = ""
os.environ.setdefault("SECRET_KEY", "test-secret-key-for-the-suite-only")
os.environ.setdefault("WHATSAPP_APP_SECRET", "test_app_secret")
os.environ.setdefault("WHATSAPP_VERIFY_TOKEN", "test-verify-token")
os.environ.setdefault("WHATSAPP_API_TOKEN", "test-graph-token")
os.environ.setdefault("GATEKEEPER_VAR_DIR", os.path.join(tempfile.gettempdir(), "gatekeeper-test-var"))

from gatekeeper_site.settings import *  # noqa: F403

# Jobs are recorded and run by the test itself (conversations.jobs.LocmemBackend);
# tests that need RQ or the thread runner switch to them explicitly.
# A worker process started by a test names the real backend in GATEKEEPER_TEST_JOBS_BACKEND.
GATEKEEPER_JOBS = {
    "BACKEND": os.environ.get("GATEKEEPER_TEST_JOBS_BACKEND", "conversations.jobs.LocmemBackend"),
    "OPTIONS": {"queue": RQ_QUEUE},  # noqa: F405
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests run jobs themselves, so the burst window would only make them wait.
REPLY_BURST_SECONDS = 0.0
os.makedirs(STATIC_ROOT, exist_ok=True)  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, as in production: in-memory SQLite shares one cache and fails concurrent writers at once.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}  # noqa: F405
