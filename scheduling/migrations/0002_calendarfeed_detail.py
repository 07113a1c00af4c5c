"""Calendar feeds get a detail level. Every existing feed becomes "minimal" (the patient's
initials and a link to the pump page instead of name, MRN, pump model and serial): a clinic
admin who wants the fuller text back chooses "full" per feed."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('scheduling', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='calendarfeed',
            name='detail',
            field=models.CharField(choices=[('minimal', "Minimal: kind, time, patient's initials and a link to the pump page"), ('full', "Full: patient's name and MRN, pump model and serial number")], default='minimal', max_length=8),
        ),
        migrations.AddField(
            model_name='historicalcalendarfeed',
            name='detail',
            field=models.CharField(choices=[('minimal', "Minimal: kind, time, patient's initials and a link to the pump page"), ('full', "Full: patient's name and MRN, pump model and serial number")], default='minimal', max_length=8),
        ),
    ]
