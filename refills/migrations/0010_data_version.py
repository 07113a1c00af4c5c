import django.db.models.deletion
from django.db import migrations, models


def create_the_shared_counter(apps, schema_editor):
    """The counter every clinic reads (no clinic); each clinic's own is made on its first change."""
    apps.get_model("refills", "DataVersion").objects.get_or_create(clinic=None)


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0005_clinic_reminder_settings"),
        ("refills", "0009_appointment_confirmation"),
    ]

    operations = [
        migrations.CreateModel(
            name="DataVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("commits", models.BigIntegerField(default=0)),
                (
                    "clinic",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="patients.clinic",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="DataChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "clinic",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="patients.clinic",
                    ),
                ),
            ],
            options={"indexes": [models.Index(fields=["clinic", "id"], name="datachange_newest")]},
        ),
        migrations.RunPython(create_the_shared_counter, migrations.RunPython.noop),
    ]
