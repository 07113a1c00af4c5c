"""docker-compose.yml and the Dockerfile cannot run here (no Docker engine); these tests
read them and check what can be checked: the YAML parses, every service the brief names is
there, every command the app services run exists and loads, and the environment they pass
is what the settings read."""

import importlib
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SETTINGS_SOURCE = (ROOT / "pumpcare" / "settings.py").read_text()
APP_SERVICES = ("web", "worker", "beat")


def test_compose_has_every_production_service():
    assert set(COMPOSE["services"]) >= {"proxy", "web", "worker", "beat", "postgres", "redis", "mailpit"}


def test_exactly_one_beat():
    beat = COMPOSE["services"]["beat"]
    assert beat["deploy"]["replicas"] == 1
    # django-celery-beat's scheduler, waiting for its database at start (pumpcare.beat).
    assert "--scheduler pumpcare.beat:DatabaseScheduler" in beat["command"]


def _commands(service: str) -> list[list[str]]:
    command = COMPOSE["services"][service]["command"]
    command = " ".join(command) if isinstance(command, list) else command
    if command.startswith("sh -c"):
        command = shlex.split(command)[2]
    return [shlex.split(part) for part in re.split(r"&&", command)]


@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_app_command_exists_and_loads(service):
    for argv in _commands(service):
        executable = argv[0]
        if executable == "python":
            assert argv[1] == "manage.py"
            from django.core.management import get_commands

            assert argv[2] in get_commands(), f"{service}: manage.py {argv[2]} is not a command"
            continue
        assert shutil.which(executable, path=str(Path(sys.executable).parent)), (
            f"{executable} is not installed"
        )
        if executable == "gunicorn":
            options = dict(zip(argv[1::2], argv[2::2], strict=False))
            config = options.get("--config", "")
            if config:  # python:module — its hooks must exist
                assert config.startswith("python:")
                assert callable(importlib.import_module(config.removeprefix("python:")).post_worker_init)
            app = next(a for a in argv[1:] if ":" in a and not a.startswith(("python:", "0.0.0.0")))
            module, attribute = app.split(":")
            assert callable(getattr(importlib.import_module(module), attribute))
        if executable == "celery":
            assert argv[1:3] == ["-A", "pumpcare"]
            assert importlib.import_module("pumpcare").celery_app.main == "pumpcare"
            if "--scheduler" in argv:
                module, attribute = argv[argv.index("--scheduler") + 1].split(":")
                assert getattr(importlib.import_module(module), attribute)


def test_app_services_pass_only_variables_the_settings_read():
    environment = COMPOSE["services"]["web"]["environment"]
    for name in environment:
        assert f'"{name}"' in SETTINGS_SOURCE, f"{name} is set in docker-compose.yml but never read"
    for required in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "EMAIL_HOST"):
        assert required in environment
    assert environment["DEBUG"] == "0"


def test_app_services_share_one_image_and_wait_for_their_backends():
    for service in APP_SERVICES:
        definition = COMPOSE["services"][service]
        assert definition["image"] == "pumpcare:latest"
        assert set(definition["depends_on"]) == {"postgres", "redis"}


def test_dockerfile_runs_gunicorn_on_the_wsgi_app_and_installs_pinned_requirements():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile
    assert "pip install -r requirements.txt" in dockerfile
    assert '"pumpcare.wsgi:application"' in dockerfile
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert "==" in line, f"requirements.txt: {line} is not pinned"


# --- the only door is the HTTPS proxy -----------------------------------------------------


def _default(value: str) -> str:
    """The default of a compose ``${NAME:-default}`` value (or the value itself)."""
    match = re.fullmatch(r"\$\{\w+:-(.*)\}", str(value))
    return match[1] if match else str(value)


def test_only_the_proxy_is_published_and_it_forwards_to_gunicorn():
    published = {
        name: [str(port) for port in service.get("ports", [])]
        for name, service in COMPOSE["services"].items()
        if service.get("ports")
    }
    # Mailpit's UI (caught reminders) is bound to this machine only.
    assert published.pop("mailpit") == ["127.0.0.1:8025:8025"]
    assert published == {"proxy": ["80:80", "443:443", "443:443/udp"]}
    assert "8000" in [str(port) for port in COMPOSE["services"]["web"]["expose"]]

    proxy = COMPOSE["services"]["proxy"]
    assert re.fullmatch(r"caddy:\d+\.\d+(\.\d+)?", proxy["image"]), "pin the proxy's image"
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in proxy["volumes"]}  # target: source
    caddyfile = ROOT / mounts["/etc/caddy/Caddyfile"].removeprefix("./")
    assert caddyfile.is_file()
    site = [line for line in caddyfile.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert site[0] == "{$SITE_ADDRESS:localhost} {"
    assert "reverse_proxy web:8000" in [line.strip() for line in site]
    assert "SITE_ADDRESS" in proxy["environment"]
    # gunicorn listens where the proxy forwards.
    gunicorn = next(argv for argv in _commands("web") if argv[0] == "gunicorn")
    assert gunicorn[gunicorn.index("--bind") + 1] == "0.0.0.0:8000"


def test_the_app_trusts_forwarded_headers_only_behind_the_proxy_and_is_https_only_by_default():
    environment = COMPOSE["services"]["web"]["environment"]
    assert environment["TRUSTED_PROXIES"] == "1"
    for name in ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT"):
        assert _default(environment[name]) == "1", f"{name} must default to on"
    assert int(_default(environment["SECURE_HSTS_SECONDS"])) >= 31536000
    assert _default(environment["CSRF_TRUSTED_ORIGINS"]).startswith("https://")
    assert _default(environment["PUMPCARE_BASE_URL"]).startswith("https://")
    # The health check talks to gunicorn directly, as the proxy would (https).
    assert "X-Forwarded-Proto" in " ".join(COMPOSE["services"]["web"]["healthcheck"]["test"])


def test_the_web_health_check_asks_readiness_database_and_broker_included():
    # /api/schema/ answered 200 with the database down; /health/ready/ answers 503.
    check = " ".join(COMPOSE["services"]["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/health/ready/" in check and "/api/schema/" not in check
    assert "timeout=" in check  # a hung answer fails the check rather than hanging it


def _production(tmp_path, *argv, **env):
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE", "REDIS", "CELERY", "EMAIL", "SECRET", "SECURE", "DJANGO", "TRUSTED"))
    }
    clean.pop("DEBUG", None)
    clean.update(
        DJANGO_SETTINGS_MODULE="pumpcare.settings",
        PUMPCARE_VAR_DIR=str(tmp_path),
        # A real-looking key: 50 random characters, as `check --deploy` wants.
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="pumps.clinic.example",
        **env,
    )
    return subprocess.run([sys.executable, *argv], cwd=ROOT, env=clean, capture_output=True, text=True)


def test_check_deploy_is_clean_with_the_production_settings(tmp_path):
    result = _production(
        tmp_path, "manage.py", "check", "--deploy", "--fail-level", "WARNING", TRUSTED_PROXIES="1"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_forwarded_proto_is_believed_only_behind_a_trusted_proxy(tmp_path):
    probe = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.SECURE_PROXY_SSL_HEADER, s.REST_FRAMEWORK['NUM_PROXIES'], s.SECURE_SSL_REDIRECT, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS]))"
    )
    direct = _production(tmp_path, "-c", probe)
    assert direct.returncode == 0, direct.stderr
    assert json.loads(direct.stdout.splitlines()[-1]) == [None, 0, True, True, True, 31536000]
    proxied = _production(tmp_path, "-c", probe, TRUSTED_PROXIES="1")
    assert json.loads(proxied.stdout.splitlines()[-1])[:2] == [["HTTP_X_FORWARDED_PROTO", "https"], 1]
