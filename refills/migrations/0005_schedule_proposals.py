"""The daily refill-proposal job, 30 minutes after the nightly projections (beat)."""

from django.db import migrations


def forwards(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute="45", hour="2", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.update_or_create(
        name="pumpcare: propose refill appointments",
        defaults={"task": "refills.propose_refills", "crontab": schedule, "enabled": True},
    )


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name="pumpcare: propose refill appointments"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("refills", "0004_historicalappointment_appointment")]
    operations = [migrations.RunPython(forwards, backwards)]
