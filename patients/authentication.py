"""Token authentication that reads whether the user works at a clinic in the same query.

Every API request checks both (``IsClinicStaff``); reading them together saves one
database round trip per request. Revoking a token or deactivating a user takes effect on
the next request, as with DRF's own class: nothing is cached between requests.

Failed attempts (a wrong, malformed or revoked token, an inactive user) are counted per
client address; past the bound (``DEFAULT_THROTTLE_RATES["failed_token"]``) they are
answered 429 instead of 401 (``pumpcare.security``). A valid token's request does not
touch that counter.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from pumpcare.security import count_failed_token

from .models import StaffMembership

# Set on the user by ``TokenAuthentication``; ``IsClinicStaff`` reads it instead of querying.
CLINIC_STAFF_ATTR = "_pumpcare_clinic_staff"


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's ``Authorization: Token <key>``, with the user's clinic membership read in the
    same query as the token and the user."""

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            count_failed_token(request)
            raise

    def authenticate_credentials(self, key):
        model = self.get_model()
        try:
            token = (
                model.objects.select_related("user")
                .annotate(clinic_staff=Exists(StaffMembership.objects.filter(user=OuterRef("user_id"))))
                .get(key=key)
            )
        except model.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        setattr(token.user, CLINIC_STAFF_ATTR, token.clinic_staff)
        return (token.user, token)
