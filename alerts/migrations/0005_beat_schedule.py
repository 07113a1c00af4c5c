"""The outbox's periodic jobs (beat): deliver due rows every minute, plan reminders and
escalations every 5 minutes, sweep rows stuck in "sending" every 5 minutes."""

from django.db import migrations

TASKS = [
    ("pumpcare: deliver due notifications", "alerts.deliver_notifications", 1),
    ("pumpcare: plan reminders and escalations", "alerts.plan_notifications", 5),
    ("pumpcare: re-queue stuck notifications", "alerts.sweep_notifications", 5),
]


def forwards(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, minutes in TASKS:
        schedule, _ = IntervalSchedule.objects.get_or_create(every=minutes, period="minutes")
        PeriodicTask.objects.update_or_create(
            name=name, defaults={"task": task, "interval": schedule, "crontab": None, "enabled": True}
        )


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[t[0] for t in TASKS]).delete()


class Migration(migrations.Migration):
    dependencies = [("alerts", "0004_notification_outbox"), ("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(forwards, backwards)]
