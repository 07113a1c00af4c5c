"""Test settings (cookiecutter-django's habit): the real settings, a fixed secret, a fast
password hasher and the in-memory email backend. The database is DATABASE_URL's
(PostgreSQL in CI) or the embedded SQLite file."""

import os

os.environ.setdefault("SECRET_KEY", "pumpcare-tests-" + "x" * 50)

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Serve static files from the apps' folders; no collectstatic before tests.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# The test client and the live server speak plain http: no redirect to https.
SECURE_SSL_REDIRECT = False
