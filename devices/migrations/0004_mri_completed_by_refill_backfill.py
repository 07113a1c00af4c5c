"""An emptied Prometra II's follow-up done before the MRI kept the refill that completed it:
its history says so ("follow-up done: the pump was refilled after the scan"), and that
refill is the first one, not voided, at or after the scan."""

from django.db import migrations

REFILLED = "follow-up done: the pump was refilled after the scan"


def backfill(apps, schema_editor):
    Mri = apps.get_model("devices", "Mri")
    HistoricalMri = apps.get_model("devices", "HistoricalMri")
    Refill = apps.get_model("refills", "Refill")
    done = Mri.objects.filter(
        follow_up="empty_before", completed_at__isnull=False, completed_by_refill__isnull=True
    )
    for mri in done:
        completion = (
            HistoricalMri.objects.filter(id=mri.pk, completed_at__isnull=False)
            .order_by("history_date", "history_id")
            .first()
        )
        if completion is None or completion.history_change_reason != REFILLED:
            continue
        refill = (
            Refill.objects.filter(pump_id=mri.pump_id, performed_at__gte=mri.scan_at, voided_at__isnull=True)
            .order_by("performed_at", "pk")
            .first()
        )
        if refill is not None:
            Mri.objects.filter(pk=mri.pk).update(completed_by_refill=refill)


class Migration(migrations.Migration):
    dependencies = [("devices", "0003_mri_completed_by_refill")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
