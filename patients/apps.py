from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class PatientsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "patients"

    def ready(self):
        from .models import Drug, StaffMembership
        from .permissions import membership_changed
        from .selectors import catalog_changed

        # The roles a registry import remembers are read again after a membership changes.
        post_save.connect(membership_changed, sender=StaffMembership, dispatch_uid="roles-membership-saved")
        post_delete.connect(
            membership_changed, sender=StaffMembership, dispatch_uid="roles-membership-deleted"
        )
        # The default drug a registry import remembers is read again after a drug changes.
        post_save.connect(catalog_changed, sender=Drug, dispatch_uid="catalog-drug-saved")
        post_delete.connect(catalog_changed, sender=Drug, dispatch_uid="catalog-drug-deleted")
