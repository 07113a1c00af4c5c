"""Real Celery worker processes for the reliability tests and the delivery benchmark: each
is ``celery -A pumpcare worker`` in its own process group (so it can be SIGKILLed whole),
on the production settings, the database and broker of the caller, and the given mail
server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def worker_env(*, database_url: str, smtp_port: int, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))}
    env.update(
        DJANGO_SETTINGS_MODULE="pumpcare.settings",
        DEBUG="0",
        SECRET_KEY="pumpcare-reliability-" + "y" * 50,
        DATABASE_URL=database_url,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        EMAIL_TIMEOUT="10",
        LOG_LEVEL="WARNING",
        **extra,
    )
    return env


class Worker:
    def __init__(self, name: str, env: dict, concurrency: int = 2, log_dir: Path | None = None):
        self.name = name
        log_dir = log_dir or ROOT / "var" / "test-workers"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}.log"
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "pumpcare",
                "worker",
                "--hostname",
                f"{name}@%h",
                "--pool",
                "prefork",
                "--concurrency",
                str(concurrency),
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log_path.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes: nothing gets to clean up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def wait_ready(app, names: list[str], seconds: float = 60) -> None:
    """Until every named worker answers a ping."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1) or []
        answered = {host.split("@")[0] for reply in replies for host in reply}
        if set(names) <= answered:
            return
    raise TimeoutError(f"workers {names} did not start within {seconds} s")
