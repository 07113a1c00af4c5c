from django.db import migrations, models


def create_the_row(apps, schema_editor):
    apps.get_model("refills", "DataVersion").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [
        ("refills", "0009_appointment_confirmation"),
    ]

    operations = [
        migrations.CreateModel(
            name="DataVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("commits", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(create_the_row, migrations.RunPython.noop),
    ]
