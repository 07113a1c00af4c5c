"""Ship the oral drug catalog (ORAL-1, RISK-1, WEAN-1).

Each value carries its source. ORAL-1 gives numbers for oral baclofen and tizanidine only;
the other drugs carry none (no warning is computed from a number the rule does not give).
Whether a drug is a benzodiazepine is its pharmacological class.
"""

from django.db import migrations

SAULINO = "Saulino et al., Neuromodulation 2016;19(6):623-31"
CLASS = "pharmacological class: benzodiazepine (drug labeling)"

DRUGS = [
    {
        "code": "baclofen_oral",
        "name": "Oral baclofen",
        "starting_dose_mg": "5",
        "starting_times_per_day": 3,
        "max_daily_dose_mg": "80",
        "older_adult_tolerated_low_mg": "30",
        "older_adult_tolerated_high_mg": "40",
        "source": f"ORAL-1 ({SAULINO}): start 5 mg up to three times daily; conventional maximum "
        "80 mg/day; older adults rarely tolerate more than 30-40 mg/day (warned above 30, the low end)",
    },
    {
        "code": "tizanidine",
        "name": "Tizanidine",
        "starting_dose_mg": "2",
        "starting_times_per_day": 3,
        "source": f"ORAL-1 ({SAULINO}): starts at 2 mg three times daily; no maximum given",
    },
    {
        "code": "dantrolene",
        "name": "Dantrolene",
        "hepatotoxic": True,
        "source": f"ORAL-1 ({SAULINO}): hepatotoxicity warning; no dose numbers given",
    },
    {"code": "diazepam", "name": "Diazepam", "benzodiazepine": True, "source": f"{CLASS}; RISK-1 ({SAULINO})"},
    {"code": "clonazepam", "name": "Clonazepam", "benzodiazepine": True, "source": f"{CLASS}; RISK-1 ({SAULINO})"},
    {"code": "lorazepam", "name": "Lorazepam", "benzodiazepine": True, "source": f"{CLASS}; RISK-1 ({SAULINO})"},
]


def ship(apps, schema_editor):
    OralDrug = apps.get_model("medications", "OralDrug")
    for values in DRUGS:
        OralDrug.objects.update_or_create(code=values["code"], defaults=values)


def unship(apps, schema_editor):
    apps.get_model("medications", "OralDrug").objects.filter(code__in=[d["code"] for d in DRUGS]).delete()


class Migration(migrations.Migration):
    dependencies = [("medications", "0001_oral_medications_and_weaning")]

    operations = [migrations.RunPython(ship, unship)]
