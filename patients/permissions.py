"""Who may do what. Every endpoint needs an active user with a staff membership in a
clinic; data is scoped to that user's clinics (another clinic's object answers 404);
writes check the user's role at the object's clinic.

Clinic data is reached only through a membership: a Django superuser (or ``is_staff``)
is an operator of the installation, not a member of every clinic, and sees through the
API and the web pages only the clinics where it holds a membership (there it acts as an
admin; in the Django admin, which Django's model permissions guard, everywhere).

The device and drug catalogs are shared by every clinic, so changing them is the platform
role's: a user holding Django's change permission on the catalog model
(``patients.change_pumpmodel``, ``patients.change_cathetermodel``, ``patients.change_drug``;
granted in the Django admin, directly or through a group; superusers hold every
permission). See ``require_catalog_editor`` for the one thing a clinic admin may do."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from pumpcare.memo import TransactionMemo

from .authentication import CLINIC_STAFF_ATTR
from .models import Clinic, Drug, Role, StaffMembership

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
        staff = getattr(user, CLINIC_STAFF_ATTR, None)  # read with the token, when it was one
        if staff is None:
            staff = StaffMembership.objects.filter(user=user).exists()
        return staff


class IsClinicStaffOrCatalogEditor(IsClinicStaff):
    """The catalog endpoints: clinic staff read them, and the platform role (who may hold
    no membership) reads and changes them."""

    def has_permission(self, request, view):
        user = request.user
        if user and user.is_authenticated and user.is_active and is_catalog_editor(user):
            return True
        return super().has_permission(request, view)


def clinics_of(user):
    """The clinics whose data ``user`` may see: those where it is a staff member (a
    superuser too: being an operator of the installation is no membership)."""
    return Clinic.objects.filter(memberships__user=user)


def asked_clinic(query, clinics):
    """The clinic a clinic's list is asked for: the one whose code is the query's ``clinic``
    among ``clinics`` (404 when not among them), else the user's only clinic; refused (400)
    when the user works at several and names none. ``query`` is a ``pumpcare.inputs.Query``."""
    if (code := query.code("clinic")) is not None:
        return get_object_or_404(clinics, code=code)
    if len(mine := list(clinics[:2])) == 1:
        return mine[0]
    raise serializers.ValidationError({"clinic": ["is required: you work at several clinics"]})


def role_at(user, clinic: Clinic) -> str | None:
    """The role ``user`` acts with at ``clinic``. A superuser acts as an admin: the Django
    admin's actions (resending an email) call the services as the operator. Which clinics'
    data it reaches through the API and the web pages is ``clinics_of``'s answer."""
    if user.is_superuser:
        return Role.ADMIN
    roles = _roles.answers()
    key = (user.pk, clinic.pk)
    if roles is not None and key in roles:
        return roles[key]
    membership = StaffMembership.objects.filter(user=user, clinic=clinic).only("role").first()
    role = membership.role if membership else None
    if roles is not None:
        roles[key] = role
    return role


# The roles read inside ``roles_remembered``, by (user id, clinic id).
_roles = TransactionMemo("roles_remembered")


def roles_remembered():
    """Many writes in one transaction by one actor (a registry import): each user's role at
    each clinic is read from the database once in the block, and every check of the block
    (``require_role``) is still made, against that answer. The block must run inside the
    writers' transaction and ends inside it, so no answer outlives it; an answer is kept per
    user and clinic, never lent to another; a membership written in the block forgets them
    all. Nesting joins the outer block."""
    return _roles.block()


def membership_changed(sender, **kwargs) -> None:
    """A membership saved or deleted: the roles remembered in the block are read again."""
    _roles.forget()


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


CATALOG_PERMISSIONS = {
    "pumpmodel": "patients.change_pumpmodel",
    "cathetermodel": "patients.change_cathetermodel",
    "drug": "patients.change_drug",
}
SHARED_CATALOG = (
    "The device and drug catalogs are shared by every clinic: {what} is changed by a platform "
    "administrator (a user given the permission to change {entries} in the Django admin), "
    "not by a clinic's admin"
)


def is_catalog_editor(user, model_name: str | None = None) -> bool:
    """The platform role: Django's change permission on the catalog model (any of them
    when ``model_name`` is None)."""
    names = [model_name] if model_name else list(CATALOG_PERMISSIONS)
    return any(user.has_perm(CATALOG_PERMISSIONS[name]) for name in names)


def require_catalog_editor(user, entry, changes: dict, *, used_elsewhere: bool) -> None:
    """Refuse (403, ``role_required``) a catalog change that could move another clinic's
    dates. The platform role changes anything. A clinic admin may only fill in a value
    the shipped catalog leaves empty (PUMP-3: not confirmed from labeling), and only for
    an entry no pump outside the clinics where they are admin uses (``used_elsewhere``):
    a value already set (a tolerance, an alarm volume) or one another clinic's pumps read
    is never a clinic admin's to change."""
    model_name = entry._meta.model_name
    if is_catalog_editor(user, model_name):
        return
    entries = entry._meta.verbose_name_plural
    if not StaffMembership.objects.filter(user=user, role=Role.ADMIN).exists():
        raise PermissionDenied(SHARED_CATALOG.format(what="it", entries=entries), code="role_required")
    if isinstance(entry, Drug):
        raise PermissionDenied(SHARED_CATALOG.format(what="a drug", entries=entries), code="role_required")
    if not set(changes) - {"source"}:
        raise PermissionDenied(
            SHARED_CATALOG.format(what="its source text", entries=entries), code="role_required"
        )
    already_set = sorted(
        name
        for name, value in changes.items()
        if name != "source" and getattr(entry, name) not in (None, "", []) and value != getattr(entry, name)
    )
    if already_set:
        raise PermissionDenied(
            SHARED_CATALOG.format(what=f"a value already set ({', '.join(already_set)})", entries=entries),
            code="role_required",
        )
    if used_elsewhere:
        raise PermissionDenied(
            SHARED_CATALOG.format(what=f"{entry.code}, which other clinics' pumps use,", entries=entries),
            code="role_required",
        )


def admin_clinics(user):
    """The clinics where ``user`` holds the admin role."""
    return Clinic.objects.filter(memberships__user=user, memberships__role=Role.ADMIN)
