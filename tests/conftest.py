"""Shared fixtures: every test gets the same cast (healthchecks' habit) — a clinic with a
nurse, a physician, a staff member and an admin, and an outsider who works at another
clinic — plus API clients authenticated with their tokens."""

import os
import shutil
from datetime import UTC, date, datetime

import pytest
from hypothesis import settings

# Mutation testing (scripts/mutation.py) needs the same verdict for a mutant every run: the
# property tests then draw the same examples, so a sampled mutant is killed in CI exactly
# when it was killed in `make mutation`.
settings.register_profile("mutation", derandomize=True)
if os.environ.get("PUMPCARE_MUTATION_TESTING"):
    settings.load_profile("mutation")

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

# Django-dependent imports stay inside the fixtures, so the pure calculation-core tests
# also run without Django (pytest -p no:django tests/test_therapy_*.py).

# Mutation testing of the services (scripts/mutation.py --target services) runs each mutant's
# tests in its own forked pytest session, two at a time: each session takes its own copy of
# a database migrated once (an SQLite file), so no session pays the migrations and none
# sees another's writes.
MUTATION_TEST_DB = os.environ.get("PUMPCARE_MUTATION_TEST_DB")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(request, django_db_modify_db_settings_parallel_suffix):
    if not MUTATION_TEST_DB:
        return
    from django.conf import settings as django_settings
    from django.db import connections

    template = MUTATION_TEST_DB
    copy = f"{template.removesuffix('.sqlite3')}-{os.getpid()}.sqlite3"
    shutil.copyfile(template, copy)
    django_settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = copy

    def remove_copy():
        connections.close_all()
        for path in (copy, f"{copy}-wal", f"{copy}-shm"):  # SQLite's write-ahead log, if any
            if os.path.exists(path):
                os.remove(path)

    request.addfinalizer(remove_copy)


def pytest_report_header(config):
    from django.conf import settings

    if not settings.configured:
        return "pumpcare: Django not loaded (calculation core only)"
    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    broker = settings.CELERY_BROKER_URL.split("://")[0]
    return f"pumpcare: database {database}, broker {broker}"


@pytest.fixture
def clinic(db):
    from tests.factories import ClinicFactory

    return ClinicFactory(code="HOME", name="Home Clinic", timezone="UTC")


@pytest.fixture
def other_clinic(db):
    from tests.factories import ClinicFactory

    return ClinicFactory(code="AWAY", name="Away Clinic", timezone="UTC")


def _member(clinic, role, username):
    from tests.factories import MembershipFactory

    return MembershipFactory(clinic=clinic, role=role, user__username=username).user


@pytest.fixture
def nurse(clinic):
    return _member(clinic, "nurse", "nurse")


@pytest.fixture
def physician(clinic):
    return _member(clinic, "physician", "physician")


@pytest.fixture
def staff(clinic):
    return _member(clinic, "staff", "staff")


@pytest.fixture
def admin_user(clinic):
    return _member(clinic, "admin", "clinic_admin")


@pytest.fixture
def platform_admin(db):
    """The platform role: changes the shared catalogs (Django's change permission on each
    catalog model), is a member of no clinic."""
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    user = UserFactory(username="platform")
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="patients",
            codename__in=["change_pumpmodel", "change_cathetermodel", "change_drug"],
        )
    )
    return user


@pytest.fixture
def outsider(other_clinic):
    return _member(other_clinic, "nurse", "outsider")


def client_for(user):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api(nurse):
    """The nurse's API client."""
    return client_for(nurse)


@pytest.fixture
def patient(clinic):
    from tests.factories import PatientFactory

    return PatientFactory(clinic=clinic, birth_date=date(1980, 5, 17), spasticity_origin="spinal")


@pytest.fixture
def pump(patient):
    """A SynchroMed II 20 mL implanted on 2026-01-02, never filled."""
    from tests.factories import PumpFactory

    return PumpFactory(patient=patient, implanted_on=date(2026, 1, 2))


@pytest.fixture
def needs_redis():
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set: this test needs a Redis server")
    return url


@pytest.fixture
def frozen_now(monkeypatch):
    """Fix the service's clock (``pumpcare.clock.now``) at NOW."""
    monkeypatch.setattr("pumpcare.clock.now", lambda: NOW)
    return NOW


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with empty caches (the worklist caches pages by data version and
    reservoirs by pump id, and a rolled-back test database reuses ids)."""
    from django.conf import settings

    if settings.configured:
        from django.core.cache import cache

        from pumpcare import caching
        from scheduling import worklist

        cache.clear()
        caching.local_clear()
        # The worklist's per-process reservoir cache is keyed by pump id and input
        # fingerprint; the discrepancy it keeps is not an input, and ids come back.
        worklist._RESERVOIRS.clear()
