"""Delivering the outbox: claim due rows, send each once, retry, fail visibly, sweep.

1. ``due_claim`` (the beat tick, every minute) locks due pending rows with
   ``SELECT … FOR UPDATE SKIP LOCKED`` in a transaction, marks them sending with a fresh
   claim token, and queues one task per row when the transaction commits. Two ticks that
   overlap lock disjoint rows; a row is never queued by a transaction that rolled back.
2. ``notification_send`` (the task) starts an attempt with a conditional update — only the
   holder of the current claim, only once — so a task delivered twice sends once. It
   re-reads the state (is the alert still open? the person still consenting? and, asked of
   the app that planned it, is the message still due: the appointment still booked at that
   time?) and cancels what is no longer true, sends through
   Django's email backend, and marks the row sent.
3. A failure puts the row back to pending with an exponential backoff; after the last
   attempt (or a permanent refusal: an SMTP 5xx) the row is failed and staff are alerted.
4. ``stuck_sweep`` (run by every delivery tick) re-queues rows left "sending": a row whose
   task never started (the broker lost it, or the worker died before taking it) once it has
   been claimed for ``unstarted_after_seconds`` (60 s by default: such a row is picked up
   again within two minutes, and no message was sent for it), and a row whose send started
   and never finished once it has been claimed for ``stuck_after_seconds`` (600 s).

A row is due when its time is at most ``DUE_TOLERANCE`` after the tick's clock: a retry
is scheduled from the moment its task ran, a few milliseconds after the tick that claimed
it, and must not miss the tick a minute later by those milliseconds.

Duplicates a failure can cause: the SMTP server has accepted a message and the row is not
marked sent. Recording the outcome is retried while the database is unreachable for up to
``record_budget_seconds()`` (half the sweeper's limit: 300 s by default), so a database
away for less than that duplicates nothing. A worker killed in that window, or a database
away for longer, leaves the row "sending"; the sweeper re-queues it and it is sent again:
at most one message per worker process in flight at that instant (each carries the same
Message-ID, so mail systems can tell). Every other row is sent exactly once: a row never
started is re-queued without having been sent.
"""

from __future__ import annotations

import logging
import smtplib
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import get_connection
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import formats

from patients.permissions import PATIENT_WRITERS, require_role
from pumpcare import clock
from therapy import CalculationError

from . import content, outbox
from .models import AlertKind, Notification, NotificationStatus, RecipientRole, Severity
from .planners import planner_of
from .services import alert_raise

log = logging.getLogger(__name__)
S = NotificationStatus


# A retry scheduled 60 s after its task ran is due at the tick 60 s after the tick that
# claimed it, though that tick's clock reads a few milliseconds (or, under load, a second)
# earlier. Sending a message two seconds early harms no one; sending it a minute late does.
DUE_TOLERANCE = timedelta(seconds=2)


def _conf(name):
    return settings.PUMPCARE_NOTIFICATIONS[name]


# --- claiming --------------------------------------------------------------------------


def due_claim(*, enqueue, now: datetime | None = None, limit: int | None = None) -> int:
    """Claim one batch of due rows and queue their sends on commit (``enqueue(pk, claim)``:
    the delivery task queues the send task); returns how many."""
    now = now or clock.now()
    limit = limit or _conf("claim_batch_size")
    due = now + DUE_TOLERANCE
    with transaction.atomic():
        ids = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(status=S.PENDING, due_at__lte=due)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=due))
            .order_by("due_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return 0
        claim = uuid.uuid4().hex
        Notification.objects.filter(pk__in=ids).update(
            status=S.SENDING, claim=claim, claimed_at=now, attempt_started_at=None
        )
        transaction.on_commit(lambda: [enqueue(pk, claim) for pk in ids])
    return len(ids)


def due_claim_all(*, enqueue, now: datetime | None = None, max_batches: int = 100) -> int:
    """The beat tick: re-queue what a lost task left "sending", then claim batches until
    nothing due is left (or ``max_batches``)."""
    stuck_sweep(now=now)
    total = 0
    limit = _conf("claim_batch_size")
    for _ in range(max_batches):
        claimed = due_claim(now=now, limit=limit, enqueue=enqueue)
        total += claimed
        if claimed < limit:
            break
    return total


def stuck_sweep(*, now: datetime | None = None) -> int:
    """Re-queue rows left "sending": never started and claimed longer ago than
    ``unstarted_after_seconds`` (their task was lost: nothing was sent, and the lost task,
    should it turn up, finds its claim void), or started and claimed longer ago than
    ``stuck_after_seconds`` (the worker sending it died). Returns how many."""
    now = now or clock.now()
    unstarted = now - timedelta(seconds=_conf("unstarted_after_seconds"))
    started = now - timedelta(seconds=_conf("stuck_after_seconds"))
    lost = Notification.objects.filter(
        status=S.SENDING, attempt_started_at__isnull=True, claimed_at__lt=unstarted
    ).update(
        status=S.PENDING,
        claim="",
        last_error="re-queued by the sweeper: its task never started (lost with the broker or a worker)",
    )
    died = Notification.objects.filter(status=S.SENDING, claimed_at__lt=started).update(
        status=S.PENDING,
        claim="",
        attempt_started_at=None,
        last_error="re-queued by the sweeper: the worker sending it stopped",
    )
    if lost or died:
        log.warning(
            "the sweeper re-queued %s notification(s) whose task was lost, %s stuck sending", lost, died
        )
    return lost + died


# --- sending ---------------------------------------------------------------------------


@dataclass
class Outcome:
    status: str
    detail: str = ""


def notification_send(pk: int, claim: str) -> Outcome:
    """Send one claimed row, at most once per claim."""
    now = clock.now()
    started = Notification.objects.filter(
        pk=pk, status=S.SENDING, claim=claim, attempt_started_at__isnull=True
    ).update(attempt_started_at=now, attempts=F("attempts") + 1)
    if not started:
        return Outcome("skipped", "not claimed by this task, or already started")
    row = Notification.objects.select_related("clinic", "alert", "pump__patient").get(pk=pk)
    obsolete = _obsolete(row, now)
    if obsolete:
        _finish(row, claim, status=S.CANCELLED, status_reason=obsolete)
        return Outcome("cancelled", obsolete)
    to, name, reason = _address(row)
    if not to:
        _finish(row, claim, status=S.CANCELLED, status_reason=f"skipped: {reason}")
        return Outcome("cancelled", reason)
    message = content.build(row, to=to, name=name, context=_context(row, now))
    try:
        _transmit(message)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row
        return _failed_attempt(row, claim, exc, now)
    _record_sent(
        row,
        claim,
        status=S.SENT,
        sent_at=clock.now(),
        message_id=message.extra_headers["Message-ID"],
        email=to,
        last_error="",
    )
    return Outcome("sent")


def record_budget_seconds() -> float:
    """How long a sent message's outcome is retried against an unreachable database: half
    the sweeper's limit, so the sweeper never re-queues a row whose worker is still trying."""
    return _conf("stuck_after_seconds") / 2


def _record_sent(row: Notification, claim: str, **fields) -> bool:
    """Mark the row sent. The mail server has accepted the message: if the database is
    unreachable now (a failover, a restart, a network cut), giving up would leave the row
    "sending" and the sweeper would send the message again. So the write is retried, on a new
    connection, with a backoff of 0.5, 1, 2, … seconds (at most 30 between tries) for up to
    ``record_budget_seconds()`` (300 s with the default 600 s sweeper limit); only a database
    away longer than that, or a worker killed in that window, still duplicates the message."""
    delay, waited, budget = 0.5, 0.0, record_budget_seconds()
    while True:
        try:
            return _finish(row, claim, **fields)
        except (OperationalError, InterfaceError) as exc:
            if waited + delay > budget:
                log.error("notification %s was sent but could not be marked sent: %s", row.pk, exc)
                raise
            log.warning("notification %s sent; recording it failed (%s), again in %ss", row.pk, exc, delay)
            if not connection.in_atomic_block:
                connection.close_if_unusable_or_obsolete()  # the next query opens a new one
            time.sleep(delay)
            waited += delay
            delay = min(delay * 2, 30.0)


# Each worker process keeps its connection to the mail server between sends (connecting,
# greeting and quitting cost as much as the message itself), and opens a new one after a
# failure or when it has been idle for longer than a server would keep it.
_MAIL = {"connection": None, "used": 0.0, "config": None}
MAIL_IDLE_SECONDS = 30


def _transmit(message) -> None:
    config = (settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_HOST_USER)
    connection = _MAIL["connection"]
    if (
        connection is None
        or config != _MAIL["config"]
        or time.monotonic() - _MAIL["used"] > MAIL_IDLE_SECONDS
    ):
        _mail_close()
        connection = _MAIL["connection"] = get_connection(fail_silently=False)
        _MAIL["config"] = config
        connection.open()
        reused = False
    else:
        reused = True
    message.connection = connection
    try:
        message.send(fail_silently=False)
    except smtplib.SMTPServerDisconnected:
        _mail_close()
        if not reused:
            raise
        _transmit(message)  # the server dropped an idle connection: once more on a new one
    except Exception:
        _mail_close()
        raise
    _MAIL["used"] = time.monotonic()


def _mail_close() -> None:
    connection, _MAIL["connection"] = _MAIL["connection"], None
    if connection is not None:
        try:
            connection.close()
        except Exception:  # noqa: BLE001, S110 - a broken connection is dropped either way
            pass


def _finish(row: Notification, claim: str, **fields) -> bool:
    """Write the outcome, unless the sweeper gave the row to someone else meanwhile."""
    return bool(Notification.objects.filter(pk=row.pk, claim=claim).update(claim="", **fields))


def _permanent(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def _failed_attempt(row: Notification, claim: str, exc: Exception, now: datetime) -> Outcome:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    attempts = row.attempts  # read after this attempt was counted
    permanent = _permanent(exc)
    if permanent or attempts >= _conf("max_attempts"):
        why = "refused permanently" if permanent else f"failed {attempts} times"
        if _finish(row, claim, status=S.FAILED, status_reason=why, last_error=error):
            _delivery_failed_alert(row, why, error)
        log.warning("notification %s failed: %s", row.pk, error)
        return Outcome("failed", error)
    delay = min(_conf("retry_base_seconds") * 2 ** (attempts - 1), _conf("retry_max_seconds"))
    _finish(
        row,
        claim,
        status=S.PENDING,
        next_attempt_at=now + timedelta(seconds=delay),
        attempt_started_at=None,
        last_error=error,
    )
    log.info("notification %s: attempt %s failed (%s), retry in %ss", row.pk, attempts, error, delay)
    return Outcome("retry", error)


def _delivery_failed_alert(row: Notification, why: str, error: str) -> None:
    alert_raise(
        clinic=row.clinic,
        pump=row.pump,
        kind=AlertKind.DELIVERY_FAILED,
        severity=Severity.WARNING,
        message=(
            f"The {row.get_kind_display().lower()} to {row.get_recipient_role_display().lower()} "
            f"({row.recipient}) due {row.due_at:%Y-%m-%d %H:%M} UTC could not be delivered ({why}: {error}). "
            f"Reach them another way; it can be resent from the outbox (notification {row.pk})."
        ),
    )


# --- the state a message depends on ----------------------------------------------------


def _obsolete(row: Notification, now: datetime) -> str:
    """Why the row must not be sent any more (fire on state, not on the plan), or ''. A
    message an app planned (a reminder, a notice) is checked by that app."""
    planner = planner_of(row.subject)
    if planner is not None and (why := planner.obsolete(row, now)):
        return why
    if row.alert_id:
        alert = row.alert
        if alert.acknowledged_at:
            return "the alert was acknowledged"
        if alert.resolved_at:
            return "the alert was resolved"
    return ""


def _address(row: Notification) -> tuple[str, str, str]:
    """(email, name, why not) of the recipient as they are now."""
    patient = row.pump.patient if row.pump is not None else None  # read with the row
    recipient = outbox.recipient_now(row.recipient, row.clinic, patient=patient)
    if recipient.skipped:
        return "", "", recipient.skipped
    return recipient.email, recipient.name, ""


def _context(row: Notification, now: datetime) -> dict:
    clinic = row.clinic
    context: dict = {"emergency_phone": clinic.emergency_phone}
    if row.pump is not None:
        patient = row.pump.patient
        context.update(
            pump=row.pump, patient=patient, patient_name=f"{patient.given_name} {patient.family_name}"
        )
    planner = planner_of(row.subject)
    if planner is not None:
        context.update(planner.context(row, now))
    if row.alert_id:
        alert = row.alert
        every = outbox.escalation_every_hours(alert)
        repeat = int((row.due_at - alert.raised_at) / timedelta(hours=every)) if every else 0
        context.update(
            alert=alert,
            raised_local=formats.date_format(alert.raised_at.astimezone(clinic.tz), "D j M Y H:i T"),
            repeat=repeat,
            repeat_every=every if row.recipient_role == RecipientRole.ON_CALL else None,
            acknowledge_url=f"{settings.PUMPCARE_BASE_URL}/api/v1/alerts/{alert.pk}/acknowledge/",
        )
    return context


# --- staff actions ---------------------------------------------------------------------


@transaction.atomic
def notification_resend(*, actor, notification: Notification) -> Notification:
    """Send a failed, cancelled or sent row again (now, with a new Message-ID)."""
    row = Notification.objects.select_for_update().get(pk=notification.pk)
    require_role(actor, row.clinic, PATIENT_WRITERS, "Resending a notification")
    if row.status in (S.PENDING, S.SENDING):
        raise CalculationError(
            "status", f"the notification is {row.status}: it will be sent", code="not_finished"
        )
    now = clock.now()
    row.status, row.status_reason = S.PENDING, f"resend requested by {actor.get_username()}"
    row.attempts, row.next_attempt_at, row.last_error, row.claim = 0, None, "", ""
    row.resent_at, row.resent_by = now, actor
    row.save()
    return row
