"""The sweeper runs with every delivery tick (alerts.delivery.due_claim_all), once a minute:
a row whose task was lost is sent again within two minutes, not after the 5-minute sweep
job's next run past a 10-minute limit (issue 12). Its own beat entry goes."""

from django.db import migrations

NAME = "pumpcare: re-queue stuck notifications"


def forwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


def backwards(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    schedule, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={"task": "alerts.sweep_notifications", "interval": schedule, "crontab": None, "enabled": True},
    )


class Migration(migrations.Migration):
    dependencies = [("alerts", "0010_installation_identifier"), ("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(forwards, backwards)]
