"""The embedded default (SQLite in a file) holds under several users at once: concurrent
writers wait for each other instead of failing with "database is locked".

pytest-django's SQLite test database lives in memory and is shared by one connection, so
this runs the real settings in a fresh interpreter against a real database file: it
migrates it, then writers on their own threads (Django gives each thread its own
connection) register patients at the same moment through the service, which reads (the
role, the MRN already in use) before it writes, as every clinical write does."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WRITERS = r"""
import json, threading, django
django.setup()
from datetime import date
from django.core.management import call_command
from django.db import connection
from patients.models import Patient
from patients.services import clinic_create, patient_create, staff_create

call_command("migrate", verbosity=0, interactive=False)
clinic = clinic_create(code="LOCK", name="Lock test", timezone_name="UTC", emergency_phone="+1 555 0100")
nurse, _ = staff_create(username="nurse", clinic=clinic, role="nurse")
with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_mode")
    journal = cursor.fetchone()[0]
connection.close()

THREADS, EACH = 4, 8
start = threading.Barrier(THREADS)
errors = []

def writer(n):
    try:
        start.wait()
        for i in range(EACH):
            patient_create(
                actor=nurse, clinic=clinic, mrn=f"T-{n}-{i}", given_name="Ann", family_name=f"Writer{n}",
                birth_date=date(1980, 1, 1), spasticity_origin="spinal",
            )
    except Exception as error:  # what a user would have got as a 500
        errors.append(f"{type(error).__name__}: {error}")
    finally:
        connection.close()

threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"journal": journal, "errors": errors, "patients": Patient.objects.count()}))
"""


def test_concurrent_writers_on_the_embedded_database_wait_instead_of_failing(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "REDIS", "CELERY"))}
    env.update(DEBUG="1", PUMPCARE_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="pumpcare.settings")
    result = subprocess.run(
        [sys.executable, "-c", WRITERS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert (tmp_path / "db.sqlite3").is_file()  # a real file, not the in-memory test database
    assert outcome["journal"] == "wal"
    assert outcome["errors"] == []
    # 4 writers x 8 patients each, every one written
    assert outcome["patients"] == 32
