"""Who may print cards and who may change what they say."""

from patients.models import Role

# Any staff member of the clinic prints a card; the texts and the clinic's card settings
# are the clinic admin's; the patient's physician is part of the patient record.
CARD_PRINTERS = (Role.NURSE, Role.PHYSICIAN, Role.STAFF, Role.ADMIN)
CARD_EDITORS = (Role.ADMIN,)
PHYSICIAN_EDITORS = (Role.NURSE, Role.PHYSICIAN, Role.STAFF, Role.ADMIN)
