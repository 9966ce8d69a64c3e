"""Settings for the test suite: the production settings with test doubles chosen explicitly."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-secret-key-for-the-suite-only")
os.environ.setdefault("WHATSAPP_APP_SECRET", "test_app_secret")
os.environ.setdefault("WHATSAPP_VERIFY_TOKEN", "test-verify-token")
os.environ.setdefault("WHATSAPP_API_TOKEN", "test-graph-token")
os.environ.setdefault("GATEKEEPER_VAR_DIR", os.path.join(tempfile.gettempdir(), "gatekeeper-test-var"))

from gatekeeper_site.settings import *  # noqa: F403

# Jobs are recorded and run by the test itself (conversations.jobs.LocmemBackend);
# tests that need RQ or the thread runner switch to them explicitly.
GATEKEEPER_JOBS = {"BACKEND": "conversations.jobs.LocmemBackend", "OPTIONS": {}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
