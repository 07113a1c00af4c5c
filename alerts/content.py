"""What an outbox row says (ALERT-2): rendered from templates when it is sent, from the
current state of the clinic and of what the message is about, so a time or phone changed after planning
is what the recipient reads.

Messages to patients and caregivers carry the least health information that serves: the
date, the time, the place and the clinic's phone — never the drug, the diagnosis or the
device. Staff messages identify the patient by MRN and name for the clinic's own staff.
"""

from __future__ import annotations

from email.header import Header

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from pumpcare.text import one_line

from .identity import instance_id
from .models import Notification, NotificationKind, RecipientRole
from .planners import planner_of

PEOPLE = (RecipientRole.PATIENT, RecipientRole.CAREGIVER)


def template_of(row: Notification) -> str:
    """The templates of a row, without the suffix: those of the app that planned it, else
    the outbox's own for an alert (an urgent call to the patient, a staff alert)."""
    planner = planner_of(row.subject)
    if planner is not None:
        return planner.template
    if row.recipient_role in PEOPLE and row.kind == NotificationKind.PAST_EMPTY:
        return "alerts/email/urgent_call"
    return "alerts/email/staff_alert"


def message_id(row: Notification) -> str:
    """Stable per row (and per resend): a receiving system can recognise a redelivery. It
    names this installation too: another one's row of the same number is another message."""
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >") or "pumpcare.local"
    suffix = f".r{int(row.resent_at.timestamp())}" if row.resent_at else ""
    return f"<pumpcare.notification.{row.pk}{suffix}.{instance_id()}@{domain}>"


class OutboxMessage(EmailMultiAlternatives):
    """Django 5.2 encodes a non-ASCII subject (a clinic named Sainte-Thérèse, the staff
    subjects' "—") as encoded words folded for a line of its own, without counting the
    "Subject: " before it; Python's compat32 generator then finds the first word too long
    for the header's first line and folds before it, so the header starts with an empty
    line, which some mail clients show as an empty subject. The subject is encoded again
    knowing the header's name (email.header.Header's ``header_name``), in place."""

    def message(self):
        msg = super().message()
        charset = "us-ascii" if self.subject.isascii() else "utf-8"
        msg.replace_header("Subject", Header(self.subject, charset, header_name="Subject"))
        return msg


def build(row: Notification, *, to: str, name: str, context: dict) -> EmailMultiAlternatives:
    clinic = row.clinic
    context = {
        "clinic": clinic,
        "clinic_phone": clinic.contact_phone,
        "recipient_name": name,
        "row": row,
        **context,
    }
    template = template_of(row)
    # one line: a name or clinic typed with a line break must not split the header
    subject = one_line(render_to_string(f"{template}.subject.txt", context))
    text = render_to_string(f"{template}.txt", context)
    html = render_to_string(f"{template}.html", context)
    message = OutboxMessage(
        subject=subject,
        body=text,
        to=[to],
        headers={"Message-ID": message_id(row), "Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(html, "text/html")
    return message
