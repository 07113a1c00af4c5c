"""The Celery application. Tasks stay thin: they load an object and call one service."""

import os

from celery import Celery
from celery.signals import task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pumpcare.settings")

app = Celery("pumpcare")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def fresh_database_connections(**kwargs):
    """Before each task, what Django does before each request: close a connection that is
    broken or older than CONN_MAX_AGE (CELERY_DB_REUSE_MAX keeps the others open)."""
    from django.db import close_old_connections

    close_old_connections()
