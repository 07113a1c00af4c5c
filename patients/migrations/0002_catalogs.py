"""Ship the device and drug catalogs (PUMP-1..3, DOSE-4, LRA-4, ERI-1, REFILL-1).

Each value carries its source. Values not confirmed from labeling stay empty (PUMP-3):
the SynchroMed II and Prometra II internal pathway volumes, the Medtronic catheter volumes
per cm and the Prometra II service life. Calculations that need an empty value refuse
with a message naming it until an admin sets it.
"""

from django.db import migrations

SAULINO = "Saulino et al., Neuromodulation 2016;19(6):623-31"
MEDTRONIC_LRA = "Medtronic recommended alarm residual 2.0 mL; Neurosurgery 2004;55(2):390-3"
MEDTRONIC_TOL = "SynchroMed II flow accuracy 14.5 % (Medtronic hazard alert on over-infusion)"
MEDTRONIC_LIFE = "SynchroMed II battery typically 5-7 years; planning uses the short end, 5 years (60 months)"
PROMETRA_LRA = "Prometra patient therapy controller low-reservoir alarm at 3.0 mL (Prometra II PTC guide)"
PROMETRA_TOL = "Prometra II IFU: labeled acceptance 85-115 % of the programmed volume (15 %)"
DISCREPANCY = "Maino et al., Neuromodulation 2017;20(7):733-9: threshold 1.0 mL (20 mL), 2.0 mL (40 mL)"
UNCONFIRMED = "not confirmed from labeling: left empty (PUMP-3)"

PUMP_MODELS = [
    # code, manufacturer, name, reservoir, LRA, tolerance, service life (months), discrepancy
    ("8637-20", "Medtronic", "SynchroMed II 20 mL", "20", "2.0", "14.5", 60, "1.0"),
    ("8637-40", "Medtronic", "SynchroMed II 40 mL", "40", "2.0", "14.5", 60, "2.0"),
    ("13827", "Flowonix", "Prometra II 20 mL", "20", "3.0", "15", None, "1.0"),
    ("16827", "Flowonix", "Prometra II 40 mL", "40", "3.0", "15", None, "2.0"),
]

CATHETER_MODELS = [
    ("8709SC", "Medtronic", "Ascenda intrathecal catheter 8709SC", None),
    ("8731SC", "Medtronic", "Ascenda intrathecal catheter 8731SC", None),
    ("8780", "Medtronic", "InDura intrathecal catheter 8780", None),
    ("8781", "Medtronic", "InDura intrathecal catheter 8781", None),
    ("11823", "Flowonix", "Prometra intrathecal catheter", "0.0026"),
]


def pump_source(manufacturer, reservoir, service_life):
    medtronic = manufacturer == "Medtronic"
    return "\n".join(
        [
            f"reservoir_ml: {'Medtronic SynchroMed II' if medtronic else 'Prometra II IFU'} ({reservoir} mL model)",
            f"low_reservoir_alarm_ml: {MEDTRONIC_LRA if medtronic else PROMETRA_LRA}",
            f"accuracy_tolerance_pct: {MEDTRONIC_TOL if medtronic else PROMETRA_TOL}",
            f"pathway_volume_min_ml / pathway_volume_max_ml: {UNCONFIRMED}",
            f"service_life_months: {MEDTRONIC_LIFE if service_life else UNCONFIRMED}",
            f"discrepancy_threshold_ml: {DISCREPANCY}",
        ]
    )


def forwards(apps, schema_editor):
    PumpModel = apps.get_model("patients", "PumpModel")
    CatheterModel = apps.get_model("patients", "CatheterModel")
    Drug = apps.get_model("patients", "Drug")
    for code, manufacturer, name, reservoir, lra, tolerance, life, discrepancy in PUMP_MODELS:
        PumpModel.objects.update_or_create(
            code=code,
            defaults=dict(
                manufacturer=manufacturer,
                name=name,
                reservoir_ml=reservoir,
                low_reservoir_alarm_ml=lra,
                accuracy_tolerance_pct=tolerance,
                service_life_months=life,
                discrepancy_threshold_ml=discrepancy,
                source=pump_source(manufacturer, reservoir, life),
            ),
        )
    for code, manufacturer, name, per_cm in CATHETER_MODELS:
        CatheterModel.objects.update_or_create(
            code=code,
            defaults=dict(
                manufacturer=manufacturer,
                name=name,
                volume_ml_per_cm=per_cm,
                source=(
                    "volume_ml_per_cm: Prometra II IFU, 0.0026 mL/cm; implanted length = 110 cm - trimmed length"
                    if per_cm
                    else f"volume_ml_per_cm: {UNCONFIRMED}"
                ),
            ),
        )
    Drug.objects.update_or_create(
        code="baclofen",
        defaults=dict(
            name="Baclofen intrathecal",
            supplied_concentrations_mcg_per_ml=["50", "500", "1000", "2000"],
            starting_concentration_mcg_per_ml="500",
            max_reservoir_days=180,
            source="\n".join(
                [
                    "supplied concentrations: Lioresal Intrathecal and Gablofen prescribing information "
                    "(50 screening, 500, 1000, 2000 mcg/mL)",
                    f"starting concentration 500 mcg/mL: {SAULINO}",
                    "max_reservoir_days 180: 2023 in-vivo baclofen stability study",
                ]
            ),
        ),
    )


def backwards(apps, schema_editor):
    """Catalog rows referenced by pumps are kept; nothing to undo safely."""


class Migration(migrations.Migration):
    dependencies = [("patients", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
