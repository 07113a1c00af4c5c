"""Appointments and calendar feeds moved to ``scheduling``, the data version to ``pumpcare``
(their migrations rename the tables): here they leave ``refills``' state only."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('alerts', '0012_outbox_names_its_subject'),
        ('pumpcare', '0001_initial'),
        ('scheduling', '0001_initial'),
        ('refills', '0011_pump_explant_screening_trial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='calendarfeed',
                    name='clinic',
                ),
                migrations.RemoveField(
                    model_name='calendarfeed',
                    name='created_by',
                ),
                migrations.RemoveField(
                    model_name='calendarfeed',
                    name='nurse',
                ),
                migrations.RemoveField(
                    model_name='datachange',
                    name='clinic',
                ),
                migrations.RemoveField(
                    model_name='dataversion',
                    name='clinic',
                ),
                migrations.RemoveField(
                    model_name='historicalappointment',
                    name='history_user',
                ),
                migrations.RemoveField(
                    model_name='historicalappointment',
                    name='nurse',
                ),
                migrations.RemoveField(
                    model_name='historicalappointment',
                    name='pump',
                ),
                migrations.RemoveField(
                    model_name='historicalappointment',
                    name='refill',
                ),
                migrations.RemoveField(
                    model_name='historicalcalendarfeed',
                    name='clinic',
                ),
                migrations.RemoveField(
                    model_name='historicalcalendarfeed',
                    name='created_by',
                ),
                migrations.RemoveField(
                    model_name='historicalcalendarfeed',
                    name='history_user',
                ),
                migrations.RemoveField(
                    model_name='historicalcalendarfeed',
                    name='nurse',
                ),
                migrations.DeleteModel(
                    name='Appointment',
                ),
                migrations.DeleteModel(
                    name='CalendarFeed',
                ),
                migrations.DeleteModel(
                    name='DataChange',
                ),
                migrations.DeleteModel(
                    name='DataVersion',
                ),
                migrations.DeleteModel(
                    name='HistoricalAppointment',
                ),
                migrations.DeleteModel(
                    name='HistoricalCalendarFeed',
                ),
            ],
        ),
    ]
