"""Test settings: the real settings with speed knobs only."""

from __future__ import annotations

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
SECURE_SSL_REDIRECT = False
# Serve static files from the finders: no collectstatic before the suite.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
