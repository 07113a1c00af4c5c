"""The Celery application. Tasks stay thin: they load an object and call one service."""

import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pumpcare.settings")

app = Celery("pumpcare")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def fresh_database_connections(task=None, **kwargs):
    """Before each task, what Django does before each request: close a connection that is
    broken or older than CONN_MAX_AGE (CELERY_DB_REUSE_MAX keeps the others open). Not for
    an eager task (CELERY_TASK_ALWAYS_EAGER): it runs inside its caller, whose connection
    and transaction it shares."""
    from django.db import close_old_connections

    if task is not None and getattr(task.request, "is_eager", False):
        return
    close_old_connections()


@after_setup_logger.connect
@after_setup_task_logger.connect
def one_line_per_database_outage(logger, **kwargs):
    """Celery replaces the root logger's handlers (settings.LOGGING's console among them):
    the outage filter goes on its own, so a beat or a worker with its database away logs one
    line per outage, not a traceback every tick (pumpcare.outage)."""
    from pumpcare.outage import install_filter  # pumpcare.outage needs the settings loaded

    install_filter(logger)
