"""Reads for emergency cards (CARD-1, REFILL-4).

``card_data(pump)`` is the one place that decides what a card shows: a plain dict of
strings (dates as the clinic's local ISO dates, numbers as exact decimals), built from the
patient, the pump, the current prescription, the stored worst-case projection, the clinic,
the patient's physician and the card texts. Every issued card stores that dict and its
digest; a card is stale when no wallet card was issued yet or when the digest of the dict
now differs from the last wallet card's. ``cards_read`` does the same for any number of
pumps in a constant number of queries (the worklist and the batch use it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import OuterRef, Q, Subquery

import therapy
from patients.models import Clinic, Pump, PumpStatus
from pumpcare import clock
from pumpcare.caching import cached
from pumpcare.data_version import with_data_version
from refills.models import Prescription, PrescriptionMode, PumpProjection
from refills.projections import projections_refresh_stale

from .models import CardFormat, CardSettings, CardText, IssuedCard, PatientPhysician

# Every field a card shows, in the order a reader checks them (CARD-1). None of them may
# be empty on a printed card.
FIELDS = {
    "patient_name": "patient name",
    "birth_date": "date of birth",
    "pump_model": "pump model",
    "serial_number": "pump serial number",
    "implanted_on": "implant date",
    "drug": "drug",
    "concentration_mcg_per_ml": "concentration",
    "daily_dose_mcg": "daily dose",
    "mode": "mode",
    "low_reservoir_alarm_on": "low-reservoir alarm date",
    "refill_by": "refill-by date",
    "clinic_name": "managing clinic",
    "emergency_phone": "24/7 emergency phone",
    "physician": "physician",
    "withdrawal_warning": "withdrawal warning",
    "mri_note": "MRI note",
}
BATCH = 500


@dataclass(frozen=True)
class CardRead:
    """A pump's card now: the data, what is missing for printing, and the last wallet card."""

    pump: Pump
    data: dict
    digest: str
    missing: dict[str, str]
    last_digest: str | None

    @property
    def stale(self) -> bool:
        """REFILL-4: no wallet card issued yet, or something it shows has changed."""
        return self.last_digest != self.digest


# Shown when printed but not part of the digest: a refill becoming overdue (ALERT-1) does not
# make every card of the clinic stale; the card printed meanwhile says so.
NOT_DIGESTED = ("refill_overdue",)


def digest(data: dict) -> str:
    kept = {key: value for key, value in data.items() if key not in NOT_DIGESTED}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def card_data(pump: Pump) -> dict:
    """CARD-1: what the pump's emergency card shows now (empty values are None)."""
    return card_read(pump).data


def card_read(pump: Pump) -> CardRead:
    """The pump's card now. A projection an edit marked stale is recomputed first (one
    indexed query when none is), and the pump read again with it; should another
    transaction hold the pump meanwhile, the card says it cannot be printed yet
    (``missing``)."""
    projections_refresh_stale(Pump.objects.filter(pk=pump.pk))
    return cards_read([pump.pk])[pump.pk]


def cards_read(pumps: Iterable[Pump | int]) -> dict[int, CardRead]:
    """The card of each pump (by id) in seven queries, whatever the number of pumps. A pump
    given with its patient, model and projection already loaded (``select_related``, as the
    worklist has them) is used as it is instead of being read again."""
    pumps = list(pumps)
    ids = [p if isinstance(p, int) else p.pk for p in pumps]
    if not ids:
        return {}
    current = Prescription.objects.filter(pump_id=OuterRef("pk")).order_by("-effective_at", "-pk")
    last_wallet = IssuedCard.objects.filter(pump_id=OuterRef("pk"), format=CardFormat.WALLET).order_by(
        "-issued_at", "-pk"
    )
    latest = {
        pk: (prescription_id, last_digest)
        for pk, prescription_id, last_digest in Pump.objects.filter(pk__in=ids)
        .annotate(
            current_prescription_id=Subquery(current.values("pk")[:1]),
            last_card_digest=Subquery(last_wallet.values("digest")[:1]),
        )
        .values_list("pk", "current_prescription_id", "last_card_digest")
    }
    given = {p.pk: p for p in pumps if isinstance(p, Pump) and _loaded(p)}
    unread = [pk for pk in ids if pk not in given]
    if unread:
        given.update(Pump.objects.select_related("patient", "model", "projection__stale").in_bulk(unread))
    loaded = [given[pk] for pk in dict.fromkeys(ids) if pk in given and pk in latest]
    clinics = Clinic.objects.in_bulk({p.patient.clinic_id for p in loaded})
    for pump in loaded:
        pump.patient.clinic = clinics[pump.patient.clinic_id]
        pump.current_prescription_id, pump.last_card_digest = latest[pump.pk]
    prescriptions = {
        p.pk: p
        for p in Prescription.objects.filter(
            pk__in=[p.current_prescription_id for p in loaded if p.current_prescription_id]
        ).select_related("drug")
    }
    clinic_ids = set(clinics)
    texts = {
        (t.clinic_id, t.pump_model_id, t.drug_id): t
        for t in CardText.objects.filter(Q(clinic_id__in=clinic_ids) | Q(clinic__isnull=True))
    }
    physicians = {
        ph.patient_id: ph
        for ph in PatientPhysician.objects.filter(patient_id__in=[p.patient_id for p in loaded])
    }
    defaults = {s.clinic_id: s for s in CardSettings.objects.filter(clinic_id__in=clinic_ids)}
    result = {}
    for pump in loaded:
        prescription = prescriptions.get(pump.current_prescription_id)
        clinic = pump.patient.clinic
        text = None
        if prescription is not None:
            text = texts.get((clinic.pk, pump.model_id, prescription.drug_id)) or texts.get(
                (None, pump.model_id, prescription.drug_id)
            )
        physician = physicians.get(pump.patient_id)
        clinic_settings = defaults.get(clinic.pk)
        data = _data(pump, prescription, text, physician, clinic_settings)
        result[pump.pk] = CardRead(
            pump=pump,
            data=data,
            digest=digest(data),
            missing=_missing(pump, data, prescription),
            last_digest=pump.last_card_digest,
        )
    return result


def _loaded(pump: Pump) -> bool:
    if not all(descriptor.is_cached(pump) for descriptor in (Pump.patient, Pump.model, Pump.projection)):
        return False
    projection = pump.projection if hasattr(pump, "projection") else None
    return projection is None or PumpProjection.stale.is_cached(projection)  # whether it is stale


def _data(pump, prescription, text, physician, clinic_settings) -> dict:
    patient, clinic = pump.patient, pump.patient.clinic
    projection = getattr(pump, "projection", None)
    alarm = projection.low_reservoir_alarm_at_worst_case if projection else None
    if physician is not None:
        physician_line = f"{physician.name}, {physician.phone}" if physician.phone else physician.name
    else:
        physician_line = clinic_settings.default_physician if clinic_settings else ""
    data = {
        "patient_name": f"{patient.given_name} {patient.family_name}".strip(),
        "birth_date": patient.birth_date.isoformat(),
        "pump_model": f"{pump.model.manufacturer} {pump.model.name} (model {pump.model.code})",
        "serial_number": pump.serial_number,
        "implanted_on": pump.implanted_on.isoformat(),
        "drug": prescription.drug.name if prescription else None,
        "concentration_mcg_per_ml": _number(prescription.concentration_mcg_per_ml) if prescription else None,
        "daily_dose_mcg": _number(prescription.daily_dose_mcg) if prescription else None,
        "mode": _mode(prescription) if prescription else None,
        # LRA-3: scheduling uses the worst case, and so does the card.
        "low_reservoir_alarm_on": alarm.astimezone(clinic.tz).date().isoformat() if alarm else None,
        "refill_by": projection.refill_by.isoformat() if projection and projection.refill_by else None,
        "clinic_name": clinic.name,
        "emergency_phone": clinic.emergency_phone.strip(),
        "physician": physician_line.strip(),
        "withdrawal_warning": text.withdrawal_warning.strip() if text else None,
        "mri_note": text.mri_note.strip() if text else None,
    }
    data = {key: (value or None) for key, value in data.items()}
    # ALERT-1: a card printed while the refill is overdue says so (the key exists only then,
    # and is not digested: see NOT_DIGESTED).
    today = clock.now().astimezone(clinic.tz).date()
    if projection and therapy.refill_overdue_days(projection.refill_by, today):
        data["refill_overdue"] = (
            f"Refill overdue: the refill-by date {therapy.day_text(projection.refill_by)} has passed. "
            "Contact the clinic today."
        )
    return data


def _number(value: Decimal) -> str:
    return format(Decimal(value).normalize(), "f")


def _mode(prescription: Prescription) -> str:
    label = PrescriptionMode(prescription.mode).label
    if (prescription.schedule or {}).get("patient_activated_bolus"):
        # DOSE-2: the stored daily dose counts patient-activated boluses at their maximum.
        label += " + patient-activated bolus (daily dose counts its maximum)"
    return label


def _missing(pump: Pump, data: dict, prescription) -> dict[str, str]:
    """What keeps the card from being printed, field by field, saying how to fix it."""
    clinic = pump.patient.clinic
    missing = {}
    if pump.status != PumpStatus.ACTIVE:
        missing["pump"] = (
            f"the pump was explanted on {therapy.day_text(pump.explanted_on)}: it has no emergency card"
        )
    if prescription is None:
        for field in ("drug", "concentration_mcg_per_ml", "daily_dose_mcg", "mode"):
            missing[field] = "the pump has no prescription: record the first fill with its prescription"
    if data["low_reservoir_alarm_on"] is None:
        missing["low_reservoir_alarm_on"] = (
            "no low-reservoir alarm date yet: the pump was never filled (record the first fill)"
            if prescription is None
            else "no low-reservoir alarm date: the projection has none (its warnings on the pump page "
            "say why)"
        )
    projection = getattr(pump, "projection", None)
    if projection is not None and projection.stale_since is not None:
        missing["refill_by"] = (
            "the pump's dates are being recomputed after a change to a drug, a pump model or the "
            "clinic's settings: print the card in a minute"
        )
    elif data["refill_by"] is None:
        missing["refill_by"] = (
            "no refill-by date yet: the pump was never filled (record the first fill)"
            if prescription is None
            else "no refill-by date: the projection has none"
        )
    if data["emergency_phone"] is None:
        missing["emergency_phone"] = (
            f"clinic {clinic.code} has no 24/7 emergency phone: an admin sets it "
            f"(PATCH /api/v1/clinics/{clinic.code}/)"
        )
    if data["physician"] is None:
        missing["physician"] = (
            f"no physician for patient {pump.patient_id}: set the patient's physician "
            f"(PUT /api/v1/patients/{pump.patient_id}/card-physician/) or the clinic's default physician "
            f"(PATCH /api/v1/clinics/{clinic.code}/card-settings/)"
        )
    if prescription is not None:
        for field in ("withdrawal_warning", "mri_note"):
            if data[field] is None:
                missing[field] = (
                    f"no card text for pump model {pump.model.code} and drug {prescription.drug.code}: "
                    "a clinic admin adds one (POST /api/v1/card-texts/)"
                )
    return missing


def changed_fields(before: dict | None, after: dict) -> list[str]:
    """The fields of ``after`` that differ from ``before`` (all of them when no card yet)."""
    if before is None:
        return list(after)
    return [key for key in after if before.get(key) != after[key]]


def last_issued(pump: Pump, card_format: str | None = CardFormat.WALLET) -> IssuedCard | None:
    cards = IssuedCard.objects.filter(pump=pump).select_related("issued_by")
    if card_format:
        cards = cards.filter(format=card_format)
    return cards.first()


def stale_pump_ids(pumps: Iterable[Pump | int]) -> set[int]:
    """REFILL-4: which of ``pumps`` have a stale card (the worklist's ``card_stale`` flag)."""
    return {pk for pk, read in cards_read(pumps).items() if read.stale}


def stale_cards(clinic: Clinic) -> list[CardRead]:
    """REFILL-4: every active pump of ``clinic`` whose card is stale (never issued, or
    something it shows changed since the last wallet card), ordered by patient name. Each
    ``CardRead`` has the pump, the card data, and ``missing`` (non-empty when the card cannot
    be printed yet, for example a pump never filled). Seven queries per 500 pumps."""
    return [read for read in clinic_cards(clinic) if read.stale]


def stale_card_pump_ids(clinic: Clinic) -> list[int]:
    """The ids of ``stale_cards(clinic)``, cached per data version: the worklist's data
    version (``pumpcare.data_version``) changes with every write through the
    services to what a card shows or to the issued cards, so a worklist page costs one
    query for the count instead of reading every card of the clinic."""
    version = (
        with_data_version(Clinic.objects.filter(pk=clinic.pk)).values_list("data_version", flat=True).get()
    )
    key = f"stale-cards:{clinic.pk}:{hashlib.md5(version.encode(), usedforsecurity=False).hexdigest()}"
    return list(cached(key, lambda: tuple(read.pump.pk for read in stale_cards(clinic)), 3600))


def clinic_cards(clinic: Clinic) -> list[CardRead]:
    """The card of every active pump of ``clinic``, ordered by patient name."""
    ids = list(
        Pump.objects.filter(patient__clinic=clinic, status=PumpStatus.ACTIVE)
        .order_by("patient__family_name", "patient__given_name", "pk")
        .values_list("pk", flat=True)
    )
    result = []
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        reads = cards_read(chunk)
        result.extend(reads[pk] for pk in chunk)
    return result


def card_settings(clinic: Clinic) -> CardSettings:
    """The clinic's card settings, or the defaults (unsaved) when it has none."""
    return CardSettings.objects.filter(clinic=clinic).first() or CardSettings(clinic=clinic)


def card_texts(clinic: Clinic) -> list[CardText]:
    """The texts the clinic's cards use: its own, and the defaults it has not replaced."""
    rows = list(
        CardText.objects.filter(Q(clinic=clinic) | Q(clinic__isnull=True)).select_related(
            "pump_model", "drug", "clinic"
        )
    )
    own = {(t.pump_model_id, t.drug_id) for t in rows if t.clinic_id}
    return [t for t in rows if t.clinic_id or (t.pump_model_id, t.drug_id) not in own]
