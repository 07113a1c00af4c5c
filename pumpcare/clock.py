"""The service's one notion of "now", so that tests can fix it in one place
(``tests/conftest.py``'s ``frozen_now``) and every service and selector agrees on it."""

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    """The current instant, aware, in UTC."""
    return timezone.now()
