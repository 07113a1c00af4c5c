# pumpcare production image: one image for web, worker and beat (docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
# WeasyPrint renders PDFs with Pango; fonts for the printed cards.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# Static files are collected at build time; the settings refuse to load without a secret
# when DEBUG is off, so the build uses a throwaway one.
RUN SECRET_KEY=build-only-not-secret python manage.py collectstatic --noinput

RUN useradd --system --uid 1000 pumpcare && mkdir -p /app/var && chown pumpcare /app/var
USER pumpcare
EXPOSE 8000
CMD ["gunicorn", "--config", "python:pumpcare.gunicorn_conf", "pumpcare.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
