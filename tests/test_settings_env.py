"""Settings come from the environment, with safe defaults for a first run; production
mode (DEBUG off) refuses the insecure default secret key. Each case imports the settings
in a fresh interpreter with exactly the environment under test."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import json, pumpcare.settings as s; print(json.dumps({'debug': s.DEBUG, 'engine': "
    "s.DATABASES['default']['ENGINE'], 'name': str(s.DATABASES['default']['NAME']), 'broker': s.CELERY_BROKER_URL, "
    "'hosts': s.ALLOWED_HOSTS, 'email': s.EMAIL_BACKEND, 'email_host': s.EMAIL_HOST, 'email_port': s.EMAIL_PORT, "
    "'options': s.DATABASES['default'].get('OPTIONS', {})}))"
)


def settings_with(tmp_path, **env):
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE", "REDIS", "CELERY", "EMAIL", "SECRET"))
    }
    clean.pop("DEBUG", None)
    clean["PUMPCARE_VAR_DIR"] = str(tmp_path)
    clean.update(env)
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True)


def test_production_mode_refuses_the_insecure_default_key(tmp_path):
    result = settings_with(tmp_path, DEBUG="0")
    assert result.returncode != 0
    assert "refusing to start in production mode" in result.stderr


def test_production_mode_starts_with_a_secret_key(tmp_path):
    import json

    result = settings_with(tmp_path, SECRET_KEY="k" * 60)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["debug"] is False
    assert values["email"] == "django.core.mail.backends.smtp.EmailBackend"


def test_first_run_defaults_are_embedded(tmp_path):
    import json

    values = json.loads(settings_with(tmp_path, DEBUG="1").stdout)
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["name"] == str(tmp_path / "db.sqlite3")
    assert values["broker"] == "filesystem://"
    assert (tmp_path / "broker" / "queue").is_dir()
    assert values["email"] == "django.core.mail.backends.console.EmailBackend"
    assert "127.0.0.1" in values["hosts"]


def test_services_come_from_the_environment(tmp_path):
    import json

    result = settings_with(
        tmp_path,
        DEBUG="1",
        DATABASE_URL="postgres://u:p@db.example:5432/pumpcare",
        REDIS_URL="redis://cache:6379/1",
        ALLOWED_HOSTS="pumps.example.org, api.example.org",
        EMAIL_HOST="smtp.example.org",
        EMAIL_PORT="587",
    )
    values = json.loads(result.stdout)
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["name"] == "pumpcare"
    assert values["broker"] == "redis://cache:6379/1"
    assert values["hosts"] == ["pumps.example.org", "api.example.org"]
    assert (values["email_host"], values["email_port"]) == ("smtp.example.org", 587)
    # PostgreSQL prepares repeated statements (server-side binding), unless turned off; a
    # host that does not answer fails a connection within 5 s.
    assert values["options"] == {"server_side_binding": True, "prepare_threshold": 5, "connect_timeout": 5}
    result = settings_with(
        tmp_path,
        DEBUG="1",
        DATABASE_URL="postgres://u:p@db:5432/p",
        DATABASE_PREPARED_STATEMENTS="0",
        DATABASE_CONNECT_TIMEOUT="2",
    )
    assert json.loads(result.stdout)["options"] == {"connect_timeout": 2}


def test_celery_broker_url_wins_over_redis_url(tmp_path):
    import json

    result = settings_with(
        tmp_path, DEBUG="1", REDIS_URL="redis://a:6379/0", CELERY_BROKER_URL="redis://b:6379/2"
    )
    assert json.loads(result.stdout)["broker"] == "redis://b:6379/2"


def test_a_malformed_debug_value_is_refused(tmp_path):
    result = settings_with(tmp_path, DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG must be" in result.stderr


LOCKS = (
    "import json, pumpcare.settings as s; print(json.dumps([s.AXES_FAILURE_LIMIT, "
    "s.AXES_COOLOFF_TIME.total_seconds(), s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['failed_token'], "
    "s.TRUSTED_PROXIES]))"
)


def locks_with(tmp_path, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LOGIN", "API_", "TRUSTED", "SECRET"))}
    clean.update(DEBUG="1", PUMPCARE_VAR_DIR=str(tmp_path), **env)
    return subprocess.run([sys.executable, "-c", LOCKS], cwd=ROOT, env=clean, capture_output=True, text=True)


def test_the_locks_come_from_the_environment_with_sane_defaults(tmp_path):
    import json

    assert json.loads(locks_with(tmp_path).stdout) == [10, 900.0, "20/min", 0]
    result = locks_with(
        tmp_path, LOGIN_FAILURE_LIMIT="5", LOGIN_COOLOFF_MINUTES="30", API_FAILED_TOKEN_RATE="100/hour"
    )
    assert json.loads(result.stdout) == [5, 1800.0, "100/hour", 0]


def test_a_malformed_lock_setting_is_refused_with_its_name(tmp_path):
    for name, value in (
        ("LOGIN_FAILURE_LIMIT", "ten"),
        ("LOGIN_FAILURE_LIMIT", "0"),
        ("LOGIN_COOLOFF_MINUTES", "-5"),
        ("TRUSTED_PROXIES", "yes"),
        ("API_FAILED_TOKEN_RATE", "20 per minute"),
    ):
        result = locks_with(tmp_path, **{name: value})
        assert result.returncode != 0, name
        assert f"{name} must" in result.stderr, result.stderr
