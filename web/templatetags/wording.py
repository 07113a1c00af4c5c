"""``{{ message|humane }}``: a service's message in a nurse's words (``web.wording``), its
instants in the zone the page is rendered in (``{% timezone clinic.timezone %}``)."""

from django import template
from django.utils import timezone

from web import wording

register = template.Library()


@register.filter
def humane(message) -> str:
    return wording.humane(str(message or ""), timezone.get_current_timezone())


@register.filter
def ack_note_refusal(messages, alert_id) -> str:
    """Why the acknowledgement of alert ``alert_id`` was refused, for under its note field."""
    tag = wording.ack_note_tag(alert_id)
    return next((str(m) for m in messages or () if m.extra_tags == tag), "")


@register.filter
def mg(value) -> str:
    """An oral dose in mg: 5, 7.5 (``web.wording.mg``)."""
    return wording.mg(value)
