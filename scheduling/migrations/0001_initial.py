"""Appointments and calendar feeds move from ``refills`` to ``scheduling`` without losing a
row: the tables are renamed (``refills_appointment`` → ``scheduling_appointment``, and the
history and feed tables alike), the models' content types follow them (permissions and
admin log entries stay attached), and the beat jobs of scheduling carry its name."""

import django.db.models.deletion
import scheduling.models
import simple_history.models
from django.conf import settings
from django.db import migrations, models


TABLES = ("appointment", "historicalappointment", "calendarfeed", "historicalcalendarfeed")
TASKS = ("propose_refills", "plan_replacements")


def _move_content_types(apps, source: str, target: str) -> None:
    """The models' content types follow them (with their permissions and admin log entries);
    where the target's exists already (created after a migration back and forth), it stays."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    taken = set(ContentType.objects.filter(app_label=target, model__in=TABLES).values_list("model", flat=True))
    ContentType.objects.filter(app_label=source, model__in=set(TABLES) - taken).update(app_label=target)


def content_types_forward(apps, schema_editor):
    _move_content_types(apps, "refills", "scheduling")


def content_types_backward(apps, schema_editor):
    _move_content_types(apps, "scheduling", "refills")


def _rename_tasks(apps, source: str, target: str) -> None:
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for task in TASKS:
        PeriodicTask.objects.filter(task=f"{source}.{task}").update(task=f"{target}.{task}")


def beat_tasks_forward(apps, schema_editor):
    _rename_tasks(apps, "refills", "scheduling")


def beat_tasks_backward(apps, schema_editor):
    _rename_tasks(apps, "scheduling", "refills")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('patients', '0005_clinic_reminder_settings'),
        ('alerts', '0012_outbox_names_its_subject'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('refills', '0011_pump_explant_screening_trial'),
        ('refills', '0006_schedule_replacements'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='CalendarFeed',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('token', models.CharField(default=scheduling.models.new_feed_token, editable=False, max_length=64, unique=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('revoked_at', models.DateTimeField(blank=True, null=True)),
                        ('clinic', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='calendar_feeds', to='patients.clinic')),
                        ('created_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('nurse', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='calendar_feeds', to=settings.AUTH_USER_MODEL)),
                    ],
                ),
                migrations.CreateModel(
                    name='HistoricalAppointment',
                    fields=[
                        ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('refill', 'Refill'), ('replacement', 'Replacement surgery'), ('titration', 'Titration visit')], max_length=20)),
                        ('status', models.CharField(choices=[('proposed', 'Proposed'), ('booked', 'Booked'), ('completed', 'Completed'), ('cancelled', 'Cancelled'), ('no_show', 'No-show')], default='proposed', max_length=20)),
                        ('day', models.DateField(help_text="the clinic's local date")),
                        ('time', models.TimeField(blank=True, help_text="the clinic's local time, set when booked", null=True)),
                        ('proposed_by_job', models.BooleanField(default=False)),
                        ('notes', models.TextField(blank=True)),
                        ('confirmed_at', models.DateTimeField(blank=True, help_text='when the patient or a caregiver confirmed attendance from a reminder', null=True)),
                        ('confirmed_by', models.CharField(blank=True, help_text='who confirmed (reminder recipient)', max_length=200)),
                        ('history_id', models.AutoField(primary_key=True, serialize=False)),
                        ('history_date', models.DateTimeField(db_index=True)),
                        ('history_change_reason', models.TextField(null=True)),
                        ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                        ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('nurse', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('pump', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='patients.pump')),
                        ('refill', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='refills.refill')),
                    ],
                    options={
                        'verbose_name': 'historical appointment',
                        'verbose_name_plural': 'historical appointments',
                        'ordering': ('-history_date', '-history_id'),
                        'get_latest_by': ('history_date', 'history_id'),
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
                migrations.CreateModel(
                    name='HistoricalCalendarFeed',
                    fields=[
                        ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                        ('token', models.CharField(db_index=True, default=scheduling.models.new_feed_token, editable=False, max_length=64)),
                        ('created_at', models.DateTimeField(blank=True, editable=False)),
                        ('revoked_at', models.DateTimeField(blank=True, null=True)),
                        ('history_id', models.AutoField(primary_key=True, serialize=False)),
                        ('history_date', models.DateTimeField(db_index=True)),
                        ('history_change_reason', models.TextField(null=True)),
                        ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                        ('clinic', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='patients.clinic')),
                        ('created_by', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('nurse', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'historical calendar feed',
                        'verbose_name_plural': 'historical calendar feeds',
                        'ordering': ('-history_date', '-history_id'),
                        'get_latest_by': ('history_date', 'history_id'),
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
                migrations.CreateModel(
                    name='Appointment',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('refill', 'Refill'), ('replacement', 'Replacement surgery'), ('titration', 'Titration visit')], max_length=20)),
                        ('status', models.CharField(choices=[('proposed', 'Proposed'), ('booked', 'Booked'), ('completed', 'Completed'), ('cancelled', 'Cancelled'), ('no_show', 'No-show')], default='proposed', max_length=20)),
                        ('day', models.DateField(help_text="the clinic's local date")),
                        ('time', models.TimeField(blank=True, help_text="the clinic's local time, set when booked", null=True)),
                        ('proposed_by_job', models.BooleanField(default=False)),
                        ('notes', models.TextField(blank=True)),
                        ('confirmed_at', models.DateTimeField(blank=True, help_text='when the patient or a caregiver confirmed attendance from a reminder', null=True)),
                        ('confirmed_by', models.CharField(blank=True, help_text='who confirmed (reminder recipient)', max_length=200)),
                        ('nurse', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='appointments', to=settings.AUTH_USER_MODEL)),
                        ('pump', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='appointments', to='patients.pump')),
                        ('refill', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='appointment', to='refills.refill')),
                    ],
                    options={
                        'ordering': ['day', 'time', 'pk'],
                        'indexes': [models.Index(fields=['day', 'status'], name='refills_app_day_a7b657_idx')],
                        'constraints': [models.UniqueConstraint(condition=models.Q(('status__in', ['proposed', 'booked'])), fields=('pump', 'kind'), name='one_open_appointment_per_pump_and_kind')],
                    },
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"ALTER TABLE refills_{table} RENAME TO scheduling_{table}",
                    f"ALTER TABLE scheduling_{table} RENAME TO refills_{table}",
                )
                for table in TABLES
            ],
        ),
        migrations.RenameIndex(
            model_name="appointment", new_name="scheduling__day_6e18b0_idx", old_name="refills_app_day_a7b657_idx"
        ),
        migrations.RunPython(content_types_forward, content_types_backward),
        migrations.RunPython(beat_tasks_forward, beat_tasks_backward),
    ]
