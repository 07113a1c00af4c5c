"""MRI-1: the follow-up an MRI needs, per shipped pump model, with its source appended to
the model's ``source``. SynchroMed II: the motor stalls in the scanner, the pump is
interrogated after the scan (Medtronic SynchroMed II MRI material). Prometra II: the pump
is emptied before the scan (Prometra II IFU). A model not listed stays empty: an MRI on it
is refused with "no MRI guidance on file" until an admin records its follow-up."""

from django.db import migrations

SYNCHROMED = "Medtronic SynchroMed II MRI guidance: the motor stalls in the scanner; interrogate after the scan"
PROMETRA = "Prometra II IFU: empty the pump before an MRI"
FOLLOW_UP = {
    "8637-20": ("interrogate_after", SYNCHROMED),
    "8637-40": ("interrogate_after", SYNCHROMED),
    "13827": ("empty_before", PROMETRA),
    "16827": ("empty_before", PROMETRA),
}


def forwards(apps, schema_editor):
    PumpModel = apps.get_model("patients", "PumpModel")
    for code, (follow_up, source) in FOLLOW_UP.items():
        model = PumpModel.objects.filter(code=code).first()
        if model is None or model.mri_follow_up:
            continue
        model.mri_follow_up = follow_up
        model.source = f"{model.source}\nmri_follow_up: {source}".strip()
        model.save(update_fields=["mri_follow_up", "source"])


def backwards(apps, schema_editor):
    PumpModel = apps.get_model("patients", "PumpModel")
    for code in FOLLOW_UP:
        model = PumpModel.objects.filter(code=code).first()
        if model is None:
            continue
        model.mri_follow_up = ""
        model.source = "\n".join(
            line for line in model.source.splitlines() if not line.startswith("mri_follow_up:")
        )
        model.save(update_fields=["mri_follow_up", "source"])


class Migration(migrations.Migration):
    dependencies = [("patients", "0007_pumpmodel_mri_follow_up")]

    operations = [migrations.RunPython(forwards, backwards)]
