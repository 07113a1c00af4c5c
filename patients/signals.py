"""What the patients app tells the apps that know more, in the writer's transaction.

A stored projection (``refills``) reads the clinic's settings, the pump and its catalog
entries; the patients app does not know projections, so its services announce what changed
and the therapy record, subscribed when it is ready, recomputes the projections it affects.
Receivers run synchronously inside the writing transaction (``Signal.send``).
"""

from django.dispatch import Signal

# The inputs of some pumps' projections changed: ``pumps`` (a queryset of pumps, or a list
# of pumps just saved) or
# ``drug`` (a drug catalog entry: the pumps last filled with it), and ``include_explanted``
# (an explanted pump's record is recomputed too), ``edited`` (a clinic or catalog edit: its
# model and the fields it changed; None for a pump's own edit).
projection_inputs_changed = Signal()
