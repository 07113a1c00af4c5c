"""The safety net of the projections marked stale by a catalog or clinic edit (beat): every
minute, those still stale long after the edit — their recompute was never queued (the
broker was away) or was lost — are queued again."""

from django.db import migrations

NAME = "pumpcare: recompute stale projections"


def forwards(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    schedule, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={"task": "refills.refresh_stale_projections", "interval": schedule, "crontab": None, "enabled": True},
    )


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("refills", "0018_stale_projection"), ("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(forwards, backwards)]
