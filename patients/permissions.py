"""Who may do what. Every endpoint needs an active user with a staff membership in a
clinic; data is scoped to that user's clinics (another clinic's object answers 404);
writes check the user's role at the object's clinic."""

from __future__ import annotations

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from .authentication import CLINIC_STAFF_ATTR
from .models import Clinic, Role, StaffMembership

CLINICAL_WRITERS = (Role.NURSE, Role.PHYSICIAN)
PATIENT_WRITERS = (Role.NURSE, Role.PHYSICIAN, Role.STAFF, Role.ADMIN)
PUMP_WRITERS = (Role.NURSE, Role.PHYSICIAN, Role.ADMIN)
PRESCRIBERS = (Role.PHYSICIAN,)
ADMINS = (Role.ADMIN,)


class IsClinicStaff(BasePermission):
    message = "This needs a staff member of a clinic (log in, or send 'Authorization: Token <key>')."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if user.is_superuser:
            return True
        staff = getattr(user, CLINIC_STAFF_ATTR, None)  # read with the token, when it was one
        if staff is None:
            staff = StaffMembership.objects.filter(user=user).exists()
        return staff


def clinics_of(user):
    """The clinics whose data ``user`` may see."""
    if user.is_superuser:
        return Clinic.objects.all()
    return Clinic.objects.filter(memberships__user=user)


def role_at(user, clinic: Clinic) -> str | None:
    if user.is_superuser:
        return Role.ADMIN
    membership = StaffMembership.objects.filter(user=user, clinic=clinic).only("role").first()
    return membership.role if membership else None


def require_role(user, clinic: Clinic, roles, action: str) -> str:
    """Refuse (403, code ``role_required``) unless ``user`` holds one of ``roles`` at ``clinic``."""
    role = role_at(user, clinic)
    if role not in roles:
        allowed = " or ".join(str(r) for r in roles)
        raise PermissionDenied(
            f"{action} needs the {allowed} role at clinic {clinic.code} (yours: {role or 'none'})",
            code="role_required",
        )
    return role


def require_admin_anywhere(user, action: str) -> None:
    """Catalogs are shared by every clinic: changing them needs the admin role at a clinic."""
    if user.is_superuser or StaffMembership.objects.filter(user=user, role=Role.ADMIN).exists():
        return
    raise PermissionDenied(f"{action} needs the admin role", code="role_required")
