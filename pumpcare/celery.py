"""The Celery application. Tasks stay thin: they load an object and call one service."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pumpcare.settings")

app = Celery("pumpcare")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
