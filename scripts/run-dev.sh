#!/usr/bin/env bash
# The development stack in one terminal: Celery worker and beat in the background, the web
# app and API in the foreground on http://127.0.0.1:8000. Ctrl-C stops all three.
# Without CELERY_BROKER_URL/REDIS_URL the broker is kombu's filesystem transport (var/broker).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT INT TERM
celery -A pumpcare worker --loglevel=INFO --concurrency=2 >var/worker.log 2>&1 &
celery -A pumpcare beat --loglevel=INFO --scheduler django_celery_beat.schedulers:DatabaseScheduler \
  --pidfile=var/beat.pid >var/beat.log 2>&1 &
echo "Celery worker and beat are running (logs: var/worker.log, var/beat.log)."
echo "pumpcare: http://127.0.0.1:8000  (the worklist; log in as nurse / demo-pass-2026. API docs: /api/docs/, admin: /admin/)"
python manage.py runserver "${PUMPCARE_BIND:-127.0.0.1:8000}"
