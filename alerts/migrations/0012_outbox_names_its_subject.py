"""The outbox names what a message is about in its subject (``appointment:40``) and asks the
app that planned it (``alerts.planners``): the foreign key to the appointment goes. No
information is lost: every reminder's subject holds its appointment's id (and the row names
its pump), and going back fills the key from the subject again."""

from django.db import migrations


def name_the_pump(apps, schema_editor):
    """A reminder is shown on its pump's page by the pump it names: a row planned without one
    gets its appointment's pump before the key to the appointment goes."""
    Notification = apps.get_model("alerts", "Notification")
    for row in Notification.objects.filter(pump__isnull=True, appointment__isnull=False).select_related(
        "appointment"
    ):
        Notification.objects.filter(pk=row.pk).update(pump_id=row.appointment.pump_id)


def fill_from_subject(apps, schema_editor):
    Notification = apps.get_model("alerts", "Notification")
    for row in Notification.objects.filter(subject__startswith="appointment:").only("pk", "subject"):
        ident = row.subject.partition(":")[2]
        if ident.isdigit():
            Notification.objects.filter(pk=row.pk).update(appointment_id=int(ident))


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0011_sweep_with_every_delivery_tick"),
        ("refills", "0011_pump_explant_screening_trial"),
    ]

    operations = [
        # Going back: the key is added again (the reverse of RemoveField), then filled.
        migrations.RunPython(name_the_pump, fill_from_subject),
        migrations.RemoveField(model_name="notification", name="appointment"),
    ]
