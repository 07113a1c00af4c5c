"""IMPLANT-1 (with PUMP-2): the intraoperative implant fill, the priming of a new catheter that
the projection drains first, and the monitoring after the start of delivery.

All expected values are worked out by hand; the arithmetic is in the comments.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction as F
from zoneinfo import ZoneInfo

import pytest

from therapy import (
    CalculationError,
    Reservoir,
    TherapyPeriod,
    bridge_bolus,
    catheter_volume_ml,
    check_implant_fill,
    implant_monitoring,
    parse_prescription,
    priming_volume_ml,
    project,
    time_at_volume,
    volume_at,
)

PARIS = ZoneInfo("Europe/Paris")
FILL = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def reservoir(priming: F, dose: int = 300) -> Reservoir:
    plan = parse_prescription({"mode": "simple_continuous", "daily_dose_mcg": dose})
    return Reservoir(
        filled_at=FILL,
        volume_ml=F(20),
        concentration_mcg_per_ml=F(500),
        periods=(TherapyPeriod(FILL, plan, 0),),
        priming_ml=priming,
    )


# --- PUMP-2 / IMPLANT-1: the priming volume ---------------------------------------------


def test_implant_1_priming_volume_is_the_catheter_volume_pump_2():
    # Prometra's catheter, 0.0026 mL/cm, 60 cm implanted: 60 × 0.0026 = 0.156 mL.
    assert priming_volume_ml(volume_ml_per_cm=F("0.0026"), length_cm=F(60), volume_added_ml=F(20)) == F(
        "0.156"
    )


def test_implant_1_priming_volume_is_rounded_to_a_thousandth_of_a_ml():
    # 47 cm × 0.0026 = 0.1222 mL -> 0.122 mL; 48.5 cm × 0.0026 = 0.1261 mL -> 0.126 mL.
    assert priming_volume_ml(volume_ml_per_cm=F("0.0026"), length_cm=F(47), volume_added_ml=F(20)) == F(
        "0.122"
    )
    assert priming_volume_ml(volume_ml_per_cm=F("0.0026"), length_cm=F("48.5"), volume_added_ml=F(20)) == F(
        "0.126"
    )


def test_implant_1_priming_refused_when_the_catheter_volume_is_not_configured():
    # PUMP-3: Medtronic catheters ship without a volume per cm; no number is guessed.
    with pytest.raises(CalculationError) as refused:
        priming_volume_ml(volume_ml_per_cm=None, length_cm=F(50), volume_added_ml=F(20))
    assert refused.value.field == "catheter_model.volume_ml_per_cm"
    assert refused.value.code == "catheter_volume_not_configured"
    assert "priming the catheter needs the catheter's volume per cm" in refused.value.message
    with pytest.raises(CalculationError) as refused:
        priming_volume_ml(volume_ml_per_cm=F("0.0026"), length_cm=None, volume_added_ml=F(20))
    assert refused.value.field == "pump.catheter_length_cm"


def test_implant_1_priming_must_leave_drug_in_the_pump():
    # 0.156 mL of priming from a fill of 0.156 mL (or less) leaves nothing to deliver.
    with pytest.raises(CalculationError) as refused:
        priming_volume_ml(volume_ml_per_cm=F("0.0026"), length_cm=F(60), volume_added_ml=F("0.156"))
    assert refused.value.field == "volume_added_ml"
    assert refused.value.message == (
        "priming the catheter takes 0.156 mL: the fill must put more than that in the pump"
    )
    assert priming_volume_ml(volume_ml_per_cm=F("0.0026"), length_cm=F(60), volume_added_ml=F("0.157")) == F(
        "0.156"
    )


def test_pump_2_catheter_volume_is_exact_and_names_what_needs_it():
    assert catheter_volume_ml(volume_ml_per_cm=F("0.0026"), length_cm=F(47), use="x", code="c") == F("0.1222")
    with pytest.raises(CalculationError) as refused:
        catheter_volume_ml(
            volume_ml_per_cm=None, length_cm=F(47), use="a bridge bolus", code="bridge_volume_not_configured"
        )
    assert refused.value.code == "bridge_volume_not_configured"
    assert "a bridge bolus needs" in refused.value.message


def test_bridge_1_path_volume_still_adds_the_catheter_volume():
    # DOMAIN.md's worked example: 0.26 + 60 × 0.0026 = 0.416 mL.
    bridge = bridge_bolus(
        old_concentration_mcg_per_ml=F(500),
        new_concentration_mcg_per_ml=F(1000),
        prescription=parse_prescription({"mode": "simple_continuous", "daily_dose_mcg": 300}),
        pathway_volume_min_ml=F("0.26"),
        pathway_volume_max_ml=F("0.30"),
        catheter_volume_ml_per_cm=F("0.0026"),
        catheter_length_cm=F(60),
    )
    assert bridge.path_volume_ml == F("0.416")


# --- IMPLANT-1: the projection drains the priming first -----------------------------------


def test_implant_1_priming_leaves_the_reservoir_at_the_fill():
    # 20 mL filled, 0.156 mL primed into the catheter: 19.844 mL in the reservoir at once.
    res = reservoir(F("0.156"))
    assert volume_at(res, FILL) == F("19.844")
    # 300 mcg/day at 500 mcg/mL = 0.6 mL/day; one day later 19.844 − 0.6 = 19.244 mL.
    assert volume_at(res, FILL + timedelta(days=1)) == F("19.244")


def test_implant_1_priming_moves_the_alarm_earlier_by_its_volume_over_the_daily_volume():
    # Alarm at 2.0 mL: without priming (20 − 2) / 0.6 = 30 days. With 0.156 mL primed:
    # (18 − 0.156) / 0.6 = 29.74 days = 29 d 17 h 45 min 36 s.
    res = reservoir(F("0.156"))
    assert time_at_volume(res, F(2)) == FILL + timedelta(days=29, hours=17, minutes=45, seconds=36)
    assert time_at_volume(reservoir(F(0)), F(2)) == FILL + timedelta(days=30)


def test_implant_1_worst_case_drains_the_priming_at_the_same_factor_lra_3():
    # LRA-3: every volume pumped is multiplied by (1 + tolerance), the priming too. With 15 %:
    # no priming: 18 / (0.6 × 1.15) days; with priming the reservoir starts 1.15 × 0.156 mL
    # lower and drains 1.15 × 0.6 mL/day, so the alarm is 1.15 × 0.156 / (1.15 × 0.6)
    # = 0.26 days = 6 h 14 min 24 s earlier, exactly as in the nominal case.
    without = time_at_volume(reservoir(F(0)), F(2), tolerance_pct=F(15))
    primed = time_at_volume(reservoir(F("0.156")), F(2), tolerance_pct=F(15))
    assert without - primed == timedelta(hours=6, minutes=14, seconds=24)
    assert volume_at(reservoir(F("0.156")), FILL, tolerance_pct=F(15)) == 20 - F("0.156") * F("1.15")


def test_implant_1_projection_reports_the_primed_dates():
    result = project(
        reservoir(F("0.156")),
        as_of=FILL,
        lra_ml=F(2),
        tolerance_pct=F(15),
        tz=PARIS,
        safety_margin_days=7,
        max_reservoir_days=180,
    )
    assert result.reservoir_volume_ml == Decimal("19.84")  # 19.844 rounded to 0.01 mL
    assert result.low_reservoir_alarm_at == FILL + timedelta(days=29, hours=17, minutes=45, seconds=36)
    # empty: 19.844 / 0.6 = 33.0733… days
    assert result.empty_at - FILL == timedelta(days=33, seconds=6336)


@pytest.mark.parametrize("priming", [F(-1, 1000), F(20), F(21)])
def test_implant_1_reservoir_refuses_a_priming_outside_the_fill(priming):
    with pytest.raises(CalculationError) as refused:
        reservoir(priming)
    assert refused.value.field == "priming_volume_ml"
    assert refused.value.message == "must be 0 mL or more and less than the volume filled"


# --- IMPLANT-1: the implant fill is intraoperative -------------------------------------------


def test_implant_1_implant_fill_on_the_implant_day_in_the_clinic_zone():
    # 2026-03-28 23:30 UTC is 00:30 on 29 March in Paris (UTC+1 until 02:00 that night).
    check_implant_fill(
        performed_at=datetime(2026, 3, 28, 23, 30, tzinfo=UTC), implanted_on=date(2026, 3, 29), tz=PARIS
    )
    with pytest.raises(CalculationError) as refused:
        # 22:30 UTC is 23:30 on the 28th in Paris: the day before the operation.
        check_implant_fill(
            performed_at=datetime(2026, 3, 28, 22, 30, tzinfo=UTC), implanted_on=date(2026, 3, 29), tz=PARIS
        )
    assert refused.value.field == "performed_at"
    assert refused.value.code == "implant_fill_not_on_implant_day"
    assert "(29 Mar 2026); Sat 28 Mar 2026 23:30 CET is another day" in refused.value.message


# --- IMPLANT-1: at least 8 hours of monitoring -----------------------------------------------


def test_implant_1_eight_hours_of_monitoring_complete_it():
    result = implant_monitoring(
        fill_at=FILL, started_at=FILL, ended_at=FILL + timedelta(hours=8), min_hours=F(8), tz=PARIS
    )
    assert result.complete and result.hours == 8
    assert result.message == "Monitored for 8 h after the implant."


def test_implant_1_a_minute_short_of_eight_hours_is_incomplete():
    result = implant_monitoring(
        fill_at=FILL,
        started_at=FILL + timedelta(minutes=5),
        ended_at=FILL + timedelta(hours=8, minutes=4),
        min_hours=F(8),
        tz=PARIS,
    )
    # 7 h 59 min = 479 / 60 h
    assert result.complete is False and result.hours == F(479, 60)
    assert result.message == (
        "Monitored for 7 h 59 min only: at least 8 h of monitoring are required after an implant."
    )


def test_implant_1_monitoring_under_way_is_not_complete():
    result = implant_monitoring(fill_at=FILL, started_at=FILL, ended_at=None, min_hours=F(8), tz=PARIS)
    assert result.complete is False and result.hours is None
    assert result.message == "Monitoring under way since Mon 2 Mar 2026 11:00 CET."


def test_implant_1_monitoring_cannot_start_before_delivery_or_end_before_it_starts():
    with pytest.raises(CalculationError) as refused:
        implant_monitoring(
            fill_at=FILL, started_at=FILL - timedelta(minutes=1), ended_at=None, min_hours=F(8), tz=PARIS
        )
    assert refused.value.field == "started_at"
    # The fill's instant as the nurse reads it, in the clinic's zone: 10:00 UTC is 11:00 CET.
    assert refused.value.message == (
        "monitoring follows the start of delivery: it cannot start before the implant fill "
        "(Mon 2 Mar 2026 11:00 CET)"
    )
    with pytest.raises(CalculationError) as refused:
        implant_monitoring(fill_at=FILL, started_at=FILL, ended_at=FILL, min_hours=F(8), tz=PARIS)
    assert refused.value.field == "ended_at"
    assert refused.value.message == "must be after the start of the monitoring"


def test_implant_1_minimum_monitoring_not_configured_refuses():
    with pytest.raises(CalculationError) as refused:
        implant_monitoring(
            fill_at=FILL, started_at=FILL, ended_at=FILL + timedelta(hours=9), min_hours=None, tz=PARIS
        )
    assert refused.value.field == "settings.PUMPCARE_CLINICAL.implant_monitoring_min_hours"
    assert refused.value.message == "is not configured: the minimum monitoring after an implant must be set"


def test_implant_1_monitoring_short_by_seconds_is_not_shown_as_the_minimum():
    # 7 h 59 min 40 s = 28,780 s = 1439 / 180 h: incomplete. Its minutes, 479.67, are cut to
    # 479 (7 h 59 min), never rounded up to 8 h: "8 h only: at least 8 h" would contradict itself.
    result = implant_monitoring(
        fill_at=FILL,
        started_at=FILL,
        ended_at=FILL + timedelta(hours=7, minutes=59, seconds=40),
        min_hours=F(8),
        tz=PARIS,
    )
    assert result.complete is False and result.hours == F(28780, 3600)
    assert result.message == (
        "Monitored for 7 h 59 min only: at least 8 h of monitoring are required after an implant."
    )


def test_implant_1_monitoring_counts_whole_seconds_and_shows_minutes_in_two_digits():
    # 8 h 05 min 00.9 s: the part of a second is dropped (instants to the second), so
    # 29,100 s = 97 / 12 h, shown as 8 h 05 min.
    result = implant_monitoring(
        fill_at=FILL,
        started_at=FILL,
        ended_at=FILL + timedelta(hours=8, minutes=5, microseconds=900_000),
        min_hours=F(8),
        tz=PARIS,
    )
    assert result.complete is True and result.hours == F(97, 12)
    assert result.message == "Monitored for 8 h 05 min after the implant."
