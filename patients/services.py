"""Writes for clinics, staff, patients, caregivers, pumps and catalogs.

Each service validates (``full_clean``), records who and why in the history, and runs in
one transaction: a refusal writes nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, router, transaction
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import NotFound

import therapy
from pumpcare import clock
from pumpcare.inputs import text_problem

from .models import (
    Caregiver,
    CatheterModel,
    Clinic,
    ClinicClosure,
    Drug,
    Patient,
    Pump,
    PumpModel,
    Role,
    StaffMembership,
)
from .permissions import (
    ADMINS,
    PATIENT_WRITERS,
    PUMP_WRITERS,
    admin_clinics,
    require_catalog_editor,
    require_role,
)
from .signals import projection_inputs_changed


def save_audited(
    obj, *, actor, reason: str, validate_constraints: bool = True, checked: Collection[str] = ()
) -> None:
    """Validate and save ``obj``, its history row carrying ``actor`` and ``reason``.

    Text follows ``pumpcare.inputs.text_problem`` whichever way it came (API, web form,
    admin): no NUL (PostgreSQL cannot store it: a 500), control character or bidirectional
    override is written. ``validate_constraints=False`` skips the queries that check the
    model's database constraints beforehand, for a write that cannot break one (an
    appointment leaving the open statuses); the database still enforces them. ``checked``
    names the constraints (and unique fields) the caller has just made sure of itself —
    with its own refusal in a nurse's words, or because the write cannot break them (a
    one-to-one key to a row the same service has just saved): they are not looked up a
    second time; the others are, and the database still enforces them all."""
    _full_clean(obj, validate_constraints=validate_constraints, checked=frozenset(checked))
    _check_text(obj, reason)
    obj._history_user = actor
    obj._change_reason = reason
    obj.save()


def _full_clean(obj, *, validate_constraints: bool, checked: frozenset[str] = frozenset()) -> None:
    """``Model.full_clean``, except that a foreign key (a one-to-one key too) holding a row
    read from the database or saved is not looked up again to prove that the row exists
    (Django's field validation costs a query per key per save; the database's foreign key
    constraint still holds). A key set by id alone, or to a row not saved, is validated as
    Django does."""
    loaded = {
        f.name
        for f in obj._meta.concrete_fields
        if (f.many_to_one or f.one_to_one)
        and not f.remote_field.limit_choices_to
        and f.is_cached(obj)
        and (row := f.get_cached_value(obj)) is not None
        and not row._state.adding
        and row.pk == getattr(obj, f.attname)
    }
    errors: dict = {}
    checks = [
        lambda _: obj.clean_fields(exclude=loaded),
        lambda _: obj.clean(),
        # as Django does: uniqueness and constraints only of the fields that passed their own
        lambda failed: obj.validate_unique(exclude=failed | checked),
    ]
    if validate_constraints:
        checks.append(lambda failed: _validate_constraints(obj, failed, checked))
    for check in checks:
        try:
            check({name for name in errors if name != NON_FIELD_ERRORS})
        except ValidationError as error:
            errors = error.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


def _validate_constraints(obj, exclude: set[str], checked: frozenset[str]) -> None:
    """``Model.validate_constraints``, except the constraints named in ``checked``."""
    if not checked:
        obj.validate_constraints(exclude=exclude)
        return
    using = router.db_for_write(type(obj), instance=obj)
    errors: dict = {}
    for model_class, constraints in obj.get_constraints():
        for constraint in constraints:
            if constraint.name in checked:
                continue
            try:
                constraint.validate(model_class, obj, exclude=exclude, using=using)
            except ValidationError as error:
                if getattr(error, "code", None) == "unique" and len(constraint.fields) == 1:
                    errors.setdefault(constraint.fields[0], []).append(error)
                else:
                    errors = error.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


def _check_text(obj, reason: str) -> None:
    errors = {}
    for field in obj._meta.concrete_fields:
        value = getattr(obj, field.attname)
        if isinstance(field, models.CharField | models.TextField) and isinstance(value, str):
            if problem := text_problem(value):
                errors[field.name] = [problem]
    if isinstance(reason, str) and (problem := text_problem(reason)):
        errors["reason"] = [problem]
    if errors:
        raise ValidationError(errors)


def apply_changes(obj, changes: dict, *, actor, reason: str) -> None:
    for field, value in changes.items():
        setattr(obj, field, value)
    save_audited(obj, actor=actor, reason=reason)


# --- clinics and staff -----------------------------------------------------------------


@transaction.atomic
def clinic_create(*, code: str, name: str, timezone_name: str, emergency_phone: str, actor=None) -> Clinic:
    clinic = Clinic(code=code, name=name, timezone=timezone_name, emergency_phone=emergency_phone)
    save_audited(clinic, actor=actor, reason="clinic created")
    return clinic


@transaction.atomic
def clinic_update(*, actor, clinic: Clinic, changes: dict, reason: str) -> Clinic:
    require_role(actor, clinic, (Role.ADMIN,), "Changing clinic settings")
    apply_changes(clinic, changes, actor=actor, reason=reason)
    _refresh_projections(Pump.objects.filter(patient__clinic=clinic), edited=(Clinic, changes))
    return clinic


def _clinic_today(clinic: Clinic) -> date:
    return clock.now().astimezone(clinic.tz).date()


@transaction.atomic
def closure_add(*, actor, clinic: Clinic, day: date, reason: str) -> ClinicClosure:
    """The clinic's admin closes the clinic for a day (LRA-5: the proposals on it are made
    again and its bookings alerted once this commits: ``scheduling.proposals``). A day in the
    past or one already closed is refused; the reason is required (nurses read it)."""
    require_role(actor, clinic, ADMINS, "Closing the clinic for a day")
    if not (reason or "").strip():
        raise ValidationError({"reason": "is required: say why the clinic is closed that day"})
    if day < _clinic_today(clinic):
        raise ValidationError(
            {"date": f"{therapy.day_text(day)} is in the past: a closure is for today or a later day"}
        )
    existing = ClinicClosure.objects.filter(clinic=clinic, date=day).first()
    if existing is not None:
        raise ValidationError(
            {
                "date": f"the clinic is already closed on {therapy.day_text(day)}"
                + (f" ({existing.reason})" if existing.reason else "")
                + ": remove that closure first to change its reason"
            }
        )
    closure = ClinicClosure(clinic=clinic, date=day, reason=reason.strip())
    save_audited(closure, actor=actor, reason=f"closure added: {closure.reason}")
    return closure


@transaction.atomic
def closure_remove(*, actor, clinic: Clinic, day: date, reason: str = "") -> None:
    """The clinic's admin reopens a closed day (LRA-5: proposals may fall on it again once
    this commits). A closure that does not exist is a 404; one in the past is history and
    stays."""
    require_role(actor, clinic, ADMINS, "Reopening a closed day")
    closure = ClinicClosure.objects.select_for_update().filter(clinic=clinic, date=day).first()
    if closure is None:
        raise NotFound(
            f"the clinic {clinic.code} has no closure on {therapy.day_text(day)}", code="not_found"
        )
    if day < _clinic_today(clinic):
        raise ValidationError(
            {"date": f"{therapy.day_text(day)} is in the past: a past closure is kept as history"}
        )
    _check_text(closure, reason or "")
    closure._history_user = actor
    closure._change_reason = f"closure removed: {reason}" if reason else "closure removed"
    closure.delete()


@transaction.atomic
def staff_create(*, username: str, clinic: Clinic, role: str, password: str | None = None, email: str = ""):
    """A user with ``role`` at ``clinic`` (an existing user gets the membership), and the
    user's API token."""
    if role not in Role.values:
        raise ValidationError({"role": f"must be one of {', '.join(Role.values)}"})
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username, defaults={"email": email})
    if password:
        user.set_password(password)
        user.save()
    elif created:
        user.set_unusable_password()
        user.save()
    membership = StaffMembership.objects.filter(user=user, clinic=clinic).first() or StaffMembership(
        user=user, clinic=clinic
    )
    membership.role = role
    save_audited(membership, actor=None, reason=f"{role} at {clinic.code}")
    token, _ = Token.objects.get_or_create(user=user)
    return user, token


# --- patients and caregivers -----------------------------------------------------------


@transaction.atomic
def patient_create(*, actor, clinic: Clinic, **fields) -> Patient:
    require_role(actor, clinic, PATIENT_WRITERS, "Registering a patient")
    if Patient.objects.filter(clinic=clinic, mrn=fields.get("mrn")).exists():
        raise ValidationError(
            {"mrn": f"MRN {fields.get('mrn')} is already registered at clinic {clinic.code}"}
        )
    patient = Patient(clinic=clinic, **fields)
    _check_birth_date(patient.birth_date)
    save_audited(patient, actor=actor, reason="patient registered", checked=("unique_mrn_per_clinic",))
    return patient


@transaction.atomic
def patient_update(*, actor, patient: Patient, changes: dict, reason: str) -> Patient:
    require_role(actor, patient.clinic, PATIENT_WRITERS, "Changing a patient")
    if "birth_date" in changes:
        _check_birth_date(changes["birth_date"])
    apply_changes(patient, changes, actor=actor, reason=reason)
    return patient


def _check_birth_date(birth_date: date) -> None:
    if birth_date and birth_date > clock.now().date():
        raise ValidationError({"birth_date": "is in the future"})


@transaction.atomic
def caregiver_create(*, actor, patient: Patient, **fields) -> Caregiver:
    require_role(actor, patient.clinic, PATIENT_WRITERS, "Adding a caregiver")
    caregiver = Caregiver(patient=patient, **fields)
    save_audited(caregiver, actor=actor, reason="caregiver added")
    return caregiver


@transaction.atomic
def caregiver_update(*, actor, caregiver: Caregiver, changes: dict, reason: str) -> Caregiver:
    require_role(actor, caregiver.patient.clinic, PATIENT_WRITERS, "Changing a caregiver")
    apply_changes(caregiver, changes, actor=actor, reason=reason)
    return caregiver


# --- pumps -----------------------------------------------------------------------------


@transaction.atomic
def pump_create(
    *,
    actor,
    patient: Patient,
    model: PumpModel,
    serial_number: str,
    implanted_on: date,
    catheter_model: CatheterModel,
    catheter_length_cm: Decimal,
    low_reservoir_alarm_ml: Decimal | None = None,
    eri_on: date | None = None,
) -> Pump:
    """Register an implanted pump; its low-reservoir alarm volume defaults to the model's."""
    clinic = patient.clinic
    require_role(actor, clinic, PUMP_WRITERS, "Registering a pump")
    if implanted_on > clock.now().astimezone(clinic.tz).date():
        raise ValidationError({"implanted_on": "is in the future; register a pump once it is implanted"})
    if Pump.objects.filter(model=model, serial_number=serial_number).exists():
        raise ValidationError(
            {"serial_number": f"a {model.code} pump with serial {serial_number} already exists"}
        )
    if low_reservoir_alarm_ml is None:
        low_reservoir_alarm_ml = model.low_reservoir_alarm_ml
        if low_reservoir_alarm_ml is None:
            raise ValidationError(
                {
                    "low_reservoir_alarm_ml": f"is required: model {model.code} has no default alarm volume configured"
                }
            )
    pump = Pump(
        patient=patient,
        model=model,
        serial_number=serial_number,
        implanted_on=implanted_on,
        catheter_model=catheter_model,
        catheter_length_cm=catheter_length_cm,
        low_reservoir_alarm_ml=low_reservoir_alarm_ml,
        eri_on=eri_on,
    )
    _check_pump(pump)
    save_audited(pump, actor=actor, reason="pump implanted", checked=("unique_serial_per_model",))
    _refresh_projections([pump])
    return pump


# TITRATE-2: a pump stops being active only through refills.replacement (a replacement, or
# an explant with a prescriber's override and an alert), never by editing its record.
LIFECYCLE_FIELDS = ("status", "explanted_on")


@transaction.atomic
def pump_update(*, actor, pump: Pump, changes: dict, reason: str) -> Pump:
    """Correct a pump record or enter an interrogated ERI date. Its status and explant date
    are not edited here: an explant is recorded as a replacement or, without one, as a
    discontinuation (``refills.replacement``), since it stops or moves the therapy."""
    require_role(actor, pump.clinic, PUMP_WRITERS, "Changing a pump")
    for field in LIFECYCLE_FIELDS:
        if field in changes and changes[field] != getattr(pump, field):
            raise ValidationError(
                {
                    field: "An explant is not a plain change of the pump record: record a replacement "
                    "(the new pump continues the therapy) or, without a replacement, an explant with a "
                    "prescriber's override (it stops the therapy)."
                }
            )
    for field, value in changes.items():
        setattr(pump, field, value)
    _check_pump(pump)
    save_audited(pump, actor=actor, reason=reason)
    _refresh_projections(Pump.objects.filter(pk=pump.pk), include_explanted=True)
    return pump


def _check_pump(pump: Pump) -> None:
    errors = {}
    reservoir = pump.model.reservoir_ml
    if not Decimal("0") <= pump.low_reservoir_alarm_ml < reservoir:
        errors["low_reservoir_alarm_ml"] = f"must be from 0 to less than the {reservoir} mL reservoir"
    if pump.eri_on is not None and pump.eri_on <= pump.implanted_on:
        errors["eri_on"] = "must be after the implant date"
    if pump.explanted_on is not None and pump.explanted_on < pump.implanted_on:
        errors["explanted_on"] = "must not be before the implant date"
    if errors:
        raise ValidationError(errors)


# --- catalogs --------------------------------------------------------------------------


@transaction.atomic
def catalog_update(*, actor, entry: PumpModel | CatheterModel | Drug, changes: dict, reason: str):
    """Change a catalog value (the platform role; a clinic admin only fills in an empty
    value no other clinic's pump reads: ``require_catalog_editor``). The history keeps who,
    when, why and the old value; the projections of the pumps it affects are recomputed in
    the same transaction. ``actor`` None is the operator running a management command
    (``loaddemo``), who has the installation in hand anyway."""
    if actor is not None:
        require_catalog_editor(
            actor, entry, changes, used_elsewhere=_used_outside(entry, admin_clinics(actor))
        )
    if not entry.history.exists():
        # Catalog rows shipped by the data migration have no history yet: record the value
        # as shipped, so the history keeps the old value of the first change.
        entry._history_user = None
        entry._change_reason = "as shipped in the catalog"
        entry.save()
    apply_changes(entry, changes, actor=actor, reason=reason)
    if isinstance(entry, PumpModel):
        _refresh_projections(Pump.objects.filter(model=entry), edited=(PumpModel, changes))
    elif isinstance(entry, Drug):
        # A projection reads the drug of the pump's last fill: pumps never filled with it keep theirs.
        projection_inputs_changed.send(sender=Drug, drug=entry, edited=(Drug, changes))
    return entry


def _used_outside(entry: PumpModel | CatheterModel | Drug, clinics) -> bool:
    """Whether a pump outside ``clinics`` (implanted or explanted) uses the catalog entry."""
    if isinstance(entry, PumpModel):
        pumps = Pump.objects.filter(model=entry)
    elif isinstance(entry, CatheterModel):
        pumps = Pump.objects.filter(catheter_model=entry)
    else:
        return True  # every clinic's fills read the drug catalog
    return pumps.exclude(patient__clinic__in=clinics).exists()


def _refresh_projections(pumps, *, include_explanted: bool = False, edited: tuple | None = None) -> None:
    """Have the stored projections of ``pumps`` whose inputs changed recomputed (by the
    therapy record, subscribed to ``projection_inputs_changed``): in the caller's
    transaction, or — an edit of a clinic or catalog row (``edited``: its model and the
    fields changed) that many pumps read — marked stale there and recomputed by the workers
    after the commit. The fingerprint of a projection covers every input, catalog values and
    clinic settings included, so an edit no projection reads (a clinic's phone, a drug's
    source) recomputes nothing, and a catalog change locks only the pumps it changes."""
    projection_inputs_changed.send(
        sender=Pump, pumps=pumps, include_explanted=include_explanted, edited=edited
    )
