"""docker-compose.yml and the Dockerfile cannot run here (no Docker engine); these tests
read them and check what can be checked: the YAML parses, every service the brief names is
there, every command the app services run exists and loads, and the environment they pass
is what the settings read."""

import importlib
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SETTINGS_SOURCE = (ROOT / "pumpcare" / "settings.py").read_text()
APP_SERVICES = ("web", "worker", "beat")


def test_compose_has_every_production_service():
    assert set(COMPOSE["services"]) >= {"web", "worker", "beat", "postgres", "redis", "mailpit"}


def test_exactly_one_beat():
    beat = COMPOSE["services"]["beat"]
    assert beat["deploy"]["replicas"] == 1
    assert "DatabaseScheduler" in beat["command"]


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
