"""MRI-1: the prescriptions recorded for a Prometra II's emptying before this field existed
empty the reservoir (the projections are recomputed by the next planning job, or at once
by ``projections_refresh``)."""

from django.db import migrations


def mark_emptyings(apps, schema_editor):
    Mri = apps.get_model("devices", "Mri")
    Prescription = apps.get_model("refills", "Prescription")
    ids = Mri.objects.filter(emptying__isnull=False).values_list("emptying_id", flat=True)
    Prescription.objects.filter(pk__in=list(ids)).update(empties_reservoir=True)


class Migration(migrations.Migration):
    dependencies = [
        ("devices", "0001_interrogations_and_mris"),
        ("refills", "0016_prescription_empties_reservoir"),
    ]

    operations = [migrations.RunPython(mark_emptyings, migrations.RunPython.noop)]
