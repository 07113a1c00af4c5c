"""DEVICE-1 (alarms read at an interrogation) and MRI-1 (the follow-up of an MRI) in the
calculation core, with the dates worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from therapy import CalculationError, alarm_class, interrogation_findings, mri_follow_up, mri_state
from therapy.device import (
    ALARMS,
    CRITICAL_ALARMS,
    EMPTY_BEFORE,
    INTERROGATE_AFTER,
    MriState,
    alarm_words,
    check_emptying_time,
)

PARIS = ZoneInfo("Europe/Paris")
IMPLANTED = date(2022, 3, 1)


@pytest.mark.rule("DEVICE-1")
@pytest.mark.parametrize("code", ["motor_stall", "memory_error", "end_of_service"])
def test_device_1_motor_stall_memory_error_and_end_of_service_are_critical(code):
    assert alarm_class(code) == "critical"


@pytest.mark.rule("DEVICE-1", "ERI-1")
def test_device_1_eri_is_its_own_class_and_the_others_are_logged():
    assert alarm_class("eri") == "eri"
    assert alarm_class("low_reservoir") == "logged"
    assert alarm_class("other") == "logged"


@pytest.mark.rule("DEVICE-1")
def test_device_1_an_unknown_alarm_is_refused_naming_the_known_ones():
    with pytest.raises(CalculationError) as refused:
        alarm_class("battery_fire", "alarms[2]")
    assert refused.value.field == "alarms[2]"
    assert refused.value.code == "unknown_alarm"
    assert "motor_stall" in refused.value.message and "eri" in refused.value.message


@pytest.mark.rule("DEVICE-1")
@given(st.sampled_from(sorted(ALARMS)))
def test_device_1_every_known_alarm_has_exactly_one_class(code):
    assert alarm_class(code) in {"critical", "eri", "logged"}
    assert (alarm_class(code) == "critical") == (code in CRITICAL_ALARMS)


@pytest.mark.rule("DEVICE-1", "ERI-1")
def test_device_1_findings_split_critical_eri_and_logged():
    # 22:30 UTC on 2 Dec 2026 is 23:30 in Paris: still the 2nd there.
    found = interrogation_findings(
        alarms=["low_reservoir", "motor_stall", "eri"],
        interrogated_at=datetime(2026, 12, 2, 22, 30, tzinfo=UTC),
        tz=PARIS,
        implanted_on=IMPLANTED,
    )
    assert found.critical == ("motor_stall",)
    assert found.logged == ("low_reservoir",)
    assert found.eri_on == date(2026, 12, 2)  # ERI-1: the interrogation's local day


@pytest.mark.rule("DEVICE-1", "ERI-1")
def test_device_1_eri_date_is_the_local_day_of_the_interrogation():
    # 23:30 UTC on 2 Dec is 00:30 on 3 Dec in Paris: the clinic's day is the 3rd.
    found = interrogation_findings(
        alarms=["eri"],
        interrogated_at=datetime(2026, 12, 2, 23, 30, tzinfo=UTC),
        tz=PARIS,
        implanted_on=IMPLANTED,
    )
    assert found.eri_on == date(2026, 12, 3)
    assert found.critical == () and found.logged == ()


@pytest.mark.rule("DEVICE-1", "ERI-1")
def test_device_1_eri_since_a_day_the_pump_reports_sets_that_day():
    found = interrogation_findings(
        alarms=["eri"],
        interrogated_at=datetime(2026, 12, 2, 10, 0, tzinfo=UTC),
        tz=PARIS,
        implanted_on=IMPLANTED,
        eri_since=date(2026, 11, 20),
    )
    assert found.eri_on == date(2026, 11, 20)


@pytest.mark.rule("DEVICE-1")
def test_device_1_no_alarm_is_nothing_to_do():
    found = interrogation_findings(
        alarms=[], interrogated_at=datetime(2026, 12, 2, 10, 0, tzinfo=UTC), tz=PARIS, implanted_on=IMPLANTED
    )
    assert found == type(found)(critical=(), eri_on=None, logged=())


@pytest.mark.parametrize(
    ("alarms", "eri_since", "field"),
    [
        (["eri", "eri"], None, "alarms"),  # listed twice
        (["motor_stall"], date(2026, 11, 20), "eri_since"),  # a date without the alarm
        (["eri"], date(2026, 12, 3), "eri_since"),  # after the interrogation day
        (["eri"], IMPLANTED, "eri_since"),  # not after the implant
    ],
)
@pytest.mark.rule("DEVICE-1", "ERI-1")
def test_device_1_eri_refusals_name_the_field(alarms, eri_since, field):
    with pytest.raises(CalculationError) as refused:
        interrogation_findings(
            alarms=alarms,
            interrogated_at=datetime(2026, 12, 2, 10, 0, tzinfo=UTC),
            tz=PARIS,
            implanted_on=IMPLANTED,
            eri_since=eri_since,
        )
    assert refused.value.field == field


# --- MRI-1 ---------------------------------------------------------------------------------

SCAN = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)  # 14:00 in Paris on Wed 2 Dec


@pytest.mark.rule("MRI-1")
def test_mri_1_a_model_without_guidance_is_refused_never_guessed():
    assert mri_follow_up(INTERROGATE_AFTER, model="8637-20") == INTERROGATE_AFTER
    assert mri_follow_up(EMPTY_BEFORE, model="13827") == EMPTY_BEFORE
    with pytest.raises(CalculationError) as refused:
        mri_follow_up("", model="X-1")
    assert refused.value.code == "no_mri_guidance"
    assert "no MRI guidance is on file for pump model X-1" in refused.value.message


def synchromed(now, **kwargs):
    return mri_state(follow_up=INTERROGATE_AFTER, scan_at=SCAN, now=now, tz=PARIS, **kwargs)


@pytest.mark.rule("MRI-1")
def test_mri_1_synchromed_interrogation_is_due_the_scan_day_after_the_scan():
    assert synchromed(datetime(2026, 12, 2, 12, 59, tzinfo=UTC)).status == "planned"
    due = synchromed(datetime(2026, 12, 2, 13, 0, tzinfo=UTC))
    assert (due.status, due.due_on) == ("interrogation_due", date(2026, 12, 2))
    # 22:59 UTC is 23:59 in Paris: still the scan day
    assert synchromed(datetime(2026, 12, 2, 22, 59, tzinfo=UTC)).status == "interrogation_due"


@pytest.mark.rule("MRI-1")
def test_mri_1_synchromed_interrogation_is_overdue_once_the_scan_day_is_over():
    # 23:00 UTC on 2 Dec is midnight in Paris: the 3rd, the scan day is over
    late = synchromed(datetime(2026, 12, 2, 23, 0, tzinfo=UTC))
    assert late.status == "interrogation_overdue"
    assert "motor may have stalled" in late.words


@pytest.mark.rule("MRI-1")
def test_mri_1_synchromed_only_an_interrogation_after_the_scan_completes_it():
    now = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    before = synchromed(now, interrogated_at=datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
    assert before.status == "interrogation_overdue"
    assert synchromed(now, interrogated_at=SCAN).status == "done"


def prometra(now, **kwargs):
    return mri_state(follow_up=EMPTY_BEFORE, scan_at=SCAN, now=now, tz=PARIS, **kwargs)


@pytest.mark.rule("MRI-1")
def test_mri_1_prometra_must_be_emptied_then_its_refill_booked_the_scan_day():
    now = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    assert prometra(now).status == "emptying_due"
    emptied = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    assert prometra(now, emptied_at=emptied).status == "refill_unbooked"
    # a refill booked the next day is not the refill "after the scan, the same day"
    assert prometra(now, emptied_at=emptied, refill_booked_on=date(2026, 12, 3)).status == "refill_unbooked"
    assert prometra(now, emptied_at=emptied, refill_booked_on=date(2026, 12, 2)).status == "done"
    assert prometra(now, emptied_at=emptied, refilled_after_scan=True).status == "done"


@pytest.mark.rule("MRI-1")
def test_mri_1_a_cancelled_mri_needs_nothing():
    assert synchromed(datetime(2026, 12, 5, tzinfo=UTC), cancelled=True).status == "cancelled"


@pytest.mark.rule("MRI-1")
def test_mri_1_prometra_is_emptied_before_the_scan_not_after():
    check_emptying_time(emptied_at=SCAN, scan_at=SCAN, tz=PARIS)  # at the scan time: allowed
    with pytest.raises(CalculationError) as refused:
        check_emptying_time(emptied_at=datetime(2026, 12, 2, 13, 1, tzinfo=UTC), scan_at=SCAN, tz=PARIS)
    assert refused.value.field == "emptied_at"
    assert "14:00" in refused.value.message  # the scan in the clinic's time


# --- the words a nurse reads ----------------------------------------------------------------


@pytest.mark.rule("DEVICE-1")
def test_device_1_unknown_alarm_refusal_in_full():
    # alone, the refused code is named in the field "alarms"
    with pytest.raises(CalculationError) as refused:
        alarm_class("battery_fire")
    assert refused.value.field == "alarms"
    assert refused.value.message == (
        "'battery_fire' is not a known alarm: use one of motor_stall, memory_error, end_of_service, eri, "
        "low_reservoir, other"
    )


@pytest.mark.rule("DEVICE-1")
def test_device_1_an_unknown_alarm_in_a_reading_names_its_place():
    with pytest.raises(CalculationError) as refused:
        interrogation_findings(
            alarms=["motor_stall", "battery_fire"],
            interrogated_at=datetime(2026, 12, 2, 10, 0, tzinfo=UTC),
            tz=PARIS,
            implanted_on=IMPLANTED,
        )
    assert refused.value.field == "alarms[1]"
    assert refused.value.code == "unknown_alarm"


@pytest.mark.rule("DEVICE-1", "ERI-1")
@pytest.mark.parametrize(
    ("alarms", "eri_since", "code", "message"),
    [
        (["eri", "eri"], None, "repeated", "lists an alarm twice: list each alarm read once"),
        (
            ["motor_stall"],
            date(2026, 11, 20),
            "invalid",
            "is given but no ERI alarm was read: add the ERI alarm or leave it empty",
        ),
        (
            ["eri"],
            date(2026, 12, 3),
            "invalid",
            "3 Dec 2026 is after the interrogation (2 Dec 2026): the pump can only report an ERI it has reached",
        ),
        (["eri"], IMPLANTED, "invalid", "1 Mar 2022 is not after the implant day 1 Mar 2022"),
    ],
)
def test_device_1_eri_refusals_in_full(alarms, eri_since, code, message):
    with pytest.raises(CalculationError) as refused:
        interrogation_findings(
            alarms=alarms,
            interrogated_at=datetime(2026, 12, 2, 10, 0, tzinfo=UTC),
            tz=PARIS,
            implanted_on=IMPLANTED,
            eri_since=eri_since,
        )
    assert (refused.value.code, refused.value.message) == (code, message)


@pytest.mark.rule("DEVICE-1")
def test_device_1_alarm_words_are_the_nurses():
    assert alarm_words(["motor_stall", "eri", "other"]) == (
        "motor stall, elective replacement indicator (ERI), other alarm"
    )
    assert alarm_words([]) == ""


@pytest.mark.rule("MRI-1")
def test_mri_1_no_guidance_refusal_in_full():
    with pytest.raises(CalculationError) as refused:
        mri_follow_up("", model="X-1")
    assert refused.value.field == "pump"
    assert refused.value.message == (
        "no MRI guidance is on file for pump model X-1: plan the MRI with the manufacturer's instructions, "
        "and have an admin record the model's MRI follow-up in the catalog"
    )


@pytest.mark.rule("MRI-1")
def test_mri_1_state_of_a_model_without_guidance_is_refused():
    # a follow-up the catalog does not know is never turned into a state
    with pytest.raises(CalculationError) as refused:
        mri_state(follow_up="", scan_at=SCAN, now=SCAN, tz=PARIS)
    assert refused.value.code == "no_mri_guidance"
    assert refused.value.message.startswith("no MRI guidance is on file for pump model ?: ")
    # cancelled, nothing is needed whatever the model
    assert mri_state(follow_up="", scan_at=SCAN, now=SCAN, tz=PARIS, cancelled=True).status == "cancelled"


@pytest.mark.rule("MRI-1")
def test_mri_1_every_state_in_full_synchromed():
    # the scan at 14:00 Paris on Wed 2 Dec; each state with its day and its words
    before = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert synchromed(before) == MriState(
        "planned", date(2026, 12, 2), "Interrogate the pump after the scan, on 2 Dec 2026."
    )
    assert synchromed(SCAN) == MriState(
        "interrogation_due", date(2026, 12, 2), "Interrogate the pump today (2 Dec 2026): the scan is over."
    )
    assert synchromed(datetime(2026, 12, 3, 9, 0, tzinfo=UTC)) == MriState(
        "interrogation_overdue",
        date(2026, 12, 2),
        "The pump was not interrogated after the scan of 2 Dec 2026: the motor may have stalled; "
        "interrogate it now.",
    )
    assert synchromed(SCAN, interrogated_at=SCAN) == MriState(
        "done", date(2026, 12, 2), "The pump was interrogated after the scan."
    )
    assert synchromed(before, cancelled=True) == MriState(
        "cancelled", date(2026, 12, 2), "The MRI was cancelled."
    )


@pytest.mark.rule("MRI-1")
def test_mri_1_every_state_in_full_prometra():
    now = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    emptied = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    assert prometra(now) == MriState(
        "emptying_due", date(2026, 12, 2), "Empty the pump before the scan (2 Dec 2026)."
    )
    assert prometra(now, emptied_at=emptied) == MriState(
        "refill_unbooked",
        date(2026, 12, 2),
        "The pump is empty: book the refill after the scan on 2 Dec 2026.",
    )
    assert prometra(now, emptied_at=emptied, refill_booked_on=date(2026, 12, 2)) == MriState(
        "done", date(2026, 12, 2), "Emptied; the refill is booked on 2 Dec 2026."
    )
    assert prometra(now, emptied_at=emptied, refilled_after_scan=True) == MriState(
        "done", date(2026, 12, 2), "Emptied before the scan and refilled after it."
    )


@pytest.mark.rule("MRI-1")
def test_mri_1_the_scan_day_is_the_clinics():
    # 23:30 UTC on 2 Dec is 00:30 on Thu 3 Dec in Paris: the interrogation is due on the 3rd.
    late = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)
    state = mri_state(follow_up=INTERROGATE_AFTER, scan_at=late, now=late, tz=PARIS)
    assert (state.status, state.due_on) == ("interrogation_due", date(2026, 12, 3))


@pytest.mark.rule("MRI-1")
def test_mri_1_emptying_after_the_scan_refusal_in_full():
    with pytest.raises(CalculationError) as refused:
        check_emptying_time(emptied_at=datetime(2026, 12, 2, 13, 1, tzinfo=UTC), scan_at=SCAN, tz=PARIS)
    assert refused.value.code == "after_scan"
    assert refused.value.message == (
        "is after the scan (Wed 2 Dec 2026 14:00 CET): the pump is emptied before the MRI"
    )
