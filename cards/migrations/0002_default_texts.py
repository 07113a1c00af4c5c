"""Ship the default card texts (CARD-1): the withdrawal warning of intrathecal baclofen and
the MRI note of each pump model in the catalog. Only what the sources give; a clinic admin
replaces them with the clinic's own wording (POST /api/v1/card-texts/)."""

from django.db import migrations

WITHDRAWAL = (
    "Abrupt discontinuation of intrathecal baclofen causes withdrawal: itching, hypotension, "
    "paresthesia, high fever, altered mental status, rebound spasticity, rhabdomyolysis, death. "
    "It typically evolves over 1–3 days and requires immediate resumption of the intrathecal "
    "infusion; high-dose oral baclofen may not prevent acute withdrawal."
)
WITHDRAWAL_SOURCE = (
    "withdrawal_warning: DOMAIN.md TITRATE-2 and CARD-1 (Lioresal Intrathecal prescribing information); "
    "resumption of infusion and oral baclofen: Saulino et al., Neuromodulation 2016;19(6):623-31, "
    "as summarised in seed/baclofen-spasticity-guideline.txt"
)
SYNCHROMED_MRI = "The pump motor stalls in the MRI scanner: interrogate the pump after the scan."
PROMETRA_MRI = "Empty the pump before MRI."
MRI = {
    "8637-20": (SYNCHROMED_MRI, "Medtronic SynchroMed II MRI guidance (DOMAIN.md CARD-1)"),
    "8637-40": (SYNCHROMED_MRI, "Medtronic SynchroMed II MRI guidance (DOMAIN.md CARD-1)"),
    "13827": (PROMETRA_MRI, "Prometra II MRI guidance (DOMAIN.md CARD-1)"),
    "16827": (PROMETRA_MRI, "Prometra II MRI guidance (DOMAIN.md CARD-1)"),
}


def forwards(apps, schema_editor):
    CardText = apps.get_model("cards", "CardText")
    PumpModel = apps.get_model("patients", "PumpModel")
    Drug = apps.get_model("patients", "Drug")
    drug = Drug.objects.filter(code="baclofen").first()
    if drug is None:
        return
    for code, (note, source) in MRI.items():
        model = PumpModel.objects.filter(code=code).first()
        if model is None:
            continue
        CardText.objects.update_or_create(
            clinic=None,
            pump_model=model,
            drug=drug,
            defaults={
                "withdrawal_warning": WITHDRAWAL,
                "mri_note": note,
                "source": f"{WITHDRAWAL_SOURCE}\nmri_note: {source}",
            },
        )


def backwards(apps, schema_editor):
    apps.get_model("cards", "CardText").objects.filter(clinic=None).delete()


class Migration(migrations.Migration):
    dependencies = [("cards", "0001_initial"), ("patients", "0002_catalogs")]

    operations = [migrations.RunPython(forwards, backwards)]
