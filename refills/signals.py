"""What the therapy record tells the apps that know more (scheduling), in the writer's
transaction.

The therapy record does not know appointments or the alerts planned from them; the
scheduling app does, and subscribes when it is ready. Receivers run synchronously inside
the writing transaction (``Signal.send``, not ``send_robust``): what they write commits or
rolls back with the refill, and a receiver that fails fails the write.
"""

from django.dispatch import Signal

# A refill was recorded and its pump's projection refreshed: ``refill``, ``actor``,
# ``first_fill`` (the pump's first).
refill_recorded = Signal()
# A pump left service, explanted or replaced (``replaced``): ``pump``, ``actor``.
pump_retired = Signal()
# Pumps' stored projections changed through a service (a refill, a prescription, an
# explant, a transfer; an import's pumps together): ``pumps``, loaded with their patient's
# clinic. Their state alerts are raised or resolved at once.
pump_projection_changed = Signal()
# A refill was voided (entered by mistake, or corrected by a new one): ``refill``, ``actor``.
# What it completed (a booked appointment) is open again.
refill_voided = Signal()
# The assessment of a titration or other visit was recorded (not a refill's):
# ``assessment``, ``actor``. The visit it records has happened.
visit_assessed = Signal()
# An edit marked projections stale (``refills.projections.projections_mark_stale``), sent
# after its commit: the workers are asked to recompute them.
projections_marked_stale = Signal()
