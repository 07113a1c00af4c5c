#!/usr/bin/env bash
# The development stack in one terminal: Celery worker and beat in the background, the web
# app and API in the foreground on PUMPCARE_BIND (default 127.0.0.1:8000; runserver's
# forms: "8080", "0.0.0.0:8000", "[::1]:8000"). Ctrl-C stops all three.
# Without CELERY_BROKER_URL/REDIS_URL the broker is kombu's filesystem transport (var/broker).
set -euo pipefail
cd "$(dirname "$0")/.."
bind="${PUMPCARE_BIND:-127.0.0.1:8000}"
# The address to open in a browser: the bound host, or this machine for "all interfaces".
case "$bind" in
  *:*) host="${bind%:*}" port="${bind##*:}" ;;
  *) host="127.0.0.1" port="$bind" ;;
esac
case "$host" in
  "" | 0.0.0.0 | 0) shown="http://127.0.0.1:$port  (listening on every IPv4 interface)" ;;
  "[::]") shown="http://[::1]:$port  (listening on every IPv6 interface)" ;;
  *) shown="http://$host:$port" ;;
esac
mkdir -p var
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT INT TERM
celery -A pumpcare worker --loglevel=INFO --concurrency=2 >var/worker.log 2>&1 &
celery -A pumpcare beat --loglevel=INFO --scheduler pumpcare.beat:DatabaseScheduler \
  --pidfile=var/beat.pid >var/beat.log 2>&1 &
echo "Celery worker and beat are running (logs: var/worker.log, var/beat.log)."
echo "pumpcare: $shown  (the worklist; log in as nurse / demo-pass-2026. API docs: /api/docs/, admin: /admin/)"
python manage.py runserver "$bind"
