"""Which installation a message or calendar event comes from.

Message-IDs and iCalendar UIDs carry this installation's identifier, so that two
installations (two hospitals, or production and a test instance) never send a different
message under one Message-ID, nor publish two events under one UID: a mail system or a
calendar that sees both would take the second for a redelivery of the first and drop it.

``settings.PUMPCARE_INSTANCE_ID`` when it is set; otherwise an identifier generated the first
time one is needed and kept in the database (it survives restarts and belongs to the data,
like the primary keys it is paired with).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import IntegrityError, transaction

from .models import Installation

_CACHE: dict[str, str] = {}


def instance_id() -> str:
    configured = settings.PUMPCARE_INSTANCE_ID
    if configured:
        return configured
    if "id" not in _CACHE:
        row = Installation.objects.order_by("pk").first()
        if row is None:
            # Made by the migration; made again here after a database was emptied. Not cached:
            # the caller's transaction may still roll back, and the identifier must be the
            # one the database keeps.
            return _create()
        _CACHE["id"] = row.instance_id
    return _CACHE["id"]


def new_identifier() -> str:
    return uuid.uuid4().hex[:16]


def _create() -> str:
    try:
        with transaction.atomic():
            return Installation.objects.create(pk=1, instance_id=new_identifier()).instance_id
    except IntegrityError:  # another process made it first: its identifier stands
        return Installation.objects.order_by("pk").first().instance_id
