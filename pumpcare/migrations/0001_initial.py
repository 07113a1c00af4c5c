"""The data version moves from ``refills`` to the project without losing a row: its tables
are renamed and their content types follow them."""

import django.db.models.deletion
from django.db import migrations, models


TABLES = ("dataversion", "datachange")


def _move_content_types(apps, source: str, target: str) -> None:
    """The models' content types follow them (with their permissions and admin log entries);
    where the target's exists already (created after a migration back and forth), it stays."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    taken = set(ContentType.objects.filter(app_label=target, model__in=TABLES).values_list("model", flat=True))
    ContentType.objects.filter(app_label=source, model__in=set(TABLES) - taken).update(app_label=target)


def content_types_forward(apps, schema_editor):
    _move_content_types(apps, "refills", "pumpcare")


def content_types_backward(apps, schema_editor):
    _move_content_types(apps, "pumpcare", "refills")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('patients', '0005_clinic_reminder_settings'),
        ('refills', '0011_pump_explant_screening_trial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='DataVersion',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('commits', models.BigIntegerField(default=0)),
                        ('clinic', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='patients.clinic')),
                    ],
                ),
                migrations.CreateModel(
                    name='DataChange',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('clinic', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='patients.clinic')),
                    ],
                    options={
                        'indexes': [models.Index(fields=['clinic', 'id'], name='datachange_newest')],
                    },
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"ALTER TABLE refills_{table} RENAME TO pumpcare_{table}",
                    f"ALTER TABLE pumpcare_{table} RENAME TO refills_{table}",
                )
                for table in TABLES
            ],
        ),
        migrations.RunPython(content_types_forward, content_types_backward),
    ]
