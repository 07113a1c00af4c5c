"""What the device record tells the apps that know more (scheduling), in the writer's
transaction: an MRI planned, emptied, cancelled, or an interrogation recorded changes
where the pump's MRI follow-up stands, and the alerts that say so are raised or resolved
at once (``scheduling.mri``)."""

from django.dispatch import Signal

# An MRI or an interrogation of ``pump`` was recorded.
mri_follow_up_changed = Signal()
