"""pumpcare settings, all from the environment (twelve-factor), with safe first-run defaults.

| variable | default |
| --- | --- |
| DEBUG | off. ``make run`` turns it on. |
| SECRET_KEY | an insecure development key, refused when DEBUG is off |
| ALLOWED_HOSTS | comma-separated; ``localhost,127.0.0.1`` |
| DATABASE_URL | ``sqlite:///var/db.sqlite3`` (embedded); ``postgres://…`` in production |
| DATABASE_PREPARED_STATEMENTS | on (PostgreSQL); ``0`` behind a transaction-mode PgBouncer |
| DATABASE_CONNECT_TIMEOUT | 5 seconds (PostgreSQL): how long a connection attempt waits for an unanswering host |
| CELERY_RESULT_BACKEND | none (the benchmarks set one) |
| EMAIL_TIMEOUT, PUMPCARE_BASE_URL, PUMPCARE_REMINDER_LOCAL_TIME, PUMPCARE_ESCALATE_*, PUMPCARE_SEND_*, PUMPCARE_INSTANCE_ID | the outbox (README: Configuration) |
| CELERY_BROKER_URL or REDIS_URL | kombu's filesystem transport under ``var/broker`` |
| PUMPCARE_PROJECTIONS_INLINE_LIMIT | 500: an edit that many projections read (a catalog value, a clinic's zone or safety margin) recomputes up to this many in its request; more are marked stale and recomputed by the workers (README: Performance) |
| CACHE_URL | a cache in each process; ``redis://…`` shares one between the web workers |
| EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS, EMAIL_USE_SSL, DEFAULT_FROM_EMAIL | Django's names; console backend when DEBUG is on, SMTP otherwise |
| TIME_ZONE | UTC (storage is always UTC; each clinic has its own zone) |
| LOGIN_FAILURE_LIMIT, LOGIN_COOLOFF_MINUTES | 10 wrong passwords from one address for one username lock that login for 15 minutes |
| API_FAILED_TOKEN_RATE | ``20/min``: failed API token attempts per address before 429 |
| TRUSTED_PROXIES | 0; the number of reverse proxies in front (docker-compose: 1, caddy). Only then are ``X-Forwarded-For`` and ``X-Forwarded-Proto`` believed |
| SESSION_COOKIE_SECURE, CSRF_COOKIE_SECURE, SECURE_SSL_REDIRECT, SECURE_HSTS_SECONDS, SECURE_HSTS_INCLUDE_SUBDOMAINS, SECURE_HSTS_PRELOAD | on, on, on, one year, on, off when DEBUG is off |
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PUMPCARE_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be 1/0, true/false, yes/no or on/off (got {value!r})")


def env_count(name: str, default: int, minimum: int = 0) -> int:
    """A whole number from the environment, refused with its name when it is not one."""
    value = os.environ.get(name) or str(default)
    if not value.isdigit() or int(value) < minimum:
        raise ImproperlyConfigured(f"{name} must be a whole number of at least {minimum} (got {value!r})")
    return int(value)


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
INSECURE_SECRET_KEY = "django-insecure-pumpcare-development-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY") or INSECURE_SECRET_KEY
if not DEBUG and SECRET_KEY == INSECURE_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set and DEBUG is off: refusing to start in production mode with the "
        "insecure development key. Set SECRET_KEY (50+ random characters) or DEBUG=1 for development."
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "django_celery_beat",
    "simple_history",
    # From the app that knows least to the one that knows most (docs/architecture.md).
    "pumpcare",
    "patients",
    "alerts",
    "medications",
    "refills",
    "cards",
    "devices",
    "scheduling",
    "exchange",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise: static files keep their caching; everything rendered is no-store.
    "pumpcare.security.NoStoreMiddleware",
    "pumpcare.security.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # An unreachable database: 503 JSON for the API, a short page for people (pumpcare.outage).
    "pumpcare.outage.DatabaseOutageMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its answer.
    "axes.middleware.AxesMiddleware",
]

# --- Locked doors (README: Security) ----------------------------------------------------
# Login lockout (django-axes) for every login that goes through Django's authenticate():
# the web app, the browsable API and the admin. A username is locked from one address
# after LOGIN_FAILURE_LIMIT wrong passwords, for LOGIN_COOLOFF_MINUTES (each further
# attempt during the lockout starts the cool-off again). Counting per username *and*
# address keeps a clinic behind one NAT address from being locked out by one mistyping
# colleague, and keeps a stranger from locking a nurse out from elsewhere. Attempts are
# stored in the database (admin: Axes), where an administrator can unlock early.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_count("LOGIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_count("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "pumpcare.security.client_ip"
AXES_LOCKOUT_CALLABLE = "pumpcare.security.lockout_response"
# The number of reverse proxies in front of gunicorn (docker-compose.yml: caddy). Only
# behind one are X-Forwarded-For (the client's address: lockout, throttling) and
# X-Forwarded-Proto (https) believed; a client talking to gunicorn directly could forge them.
TRUSTED_PROXIES = env_count("TRUSTED_PROXIES", 0)
if TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Failed API token attempts per client address (DRF's rate format, e.g. 20/min).
API_FAILED_TOKEN_RATE = os.environ.get("API_FAILED_TOKEN_RATE", "20/min")
if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", API_FAILED_TOKEN_RATE):
    raise ImproperlyConfigured(
        f"API_FAILED_TOKEN_RATE must look like 20/min (a count per s, min, hour or day), got {API_FAILED_TOKEN_RATE!r}"
    )
# Content-Security-Policy (django-csp): scripts and styles only from our own static files,
# no plugins, no framing, forms post only here. pumpcare.security relaxes inline *styles*
# (never scripts) on the admin, the browsable API and the API docs, whose templates we do
# not own.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

ROOT_URLCONF = "pumpcare.urls"
WSGI_APPLICATION = "pumpcare.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
    "DATABASE_PREPARED_STATEMENTS", True
):
    # Server-side binding lets psycopg prepare a statement run 5 times on a connection:
    # PostgreSQL then plans it once (the worklist's data version query costs more to plan
    # than to run: a cached worklist page takes half the time). Set
    # DATABASE_PREPARED_STATEMENTS=0 behind a transaction-mode pooler (PgBouncer) that
    # does not support prepared statements.
    DATABASES["default"]["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 5}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database host that does not answer (a network cut, not a refusal) fails a page, a
    # task or the readiness check within this many seconds, instead of the system's minutes.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_count(
        "DATABASE_CONNECT_TIMEOUT", 5, minimum=1
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The embedded database is shared by every request thread, the worker and beat. WAL lets
    # readers run beside the one writer. A transaction that reads and then writes must take
    # the write lock when it begins (IMMEDIATE): a deferred one that upgrades to writing
    # while another writes fails at once with "database is locked", whatever the timeout.
    # The busy timeout (seconds) is how long a writer waits for the one before it.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Development serves static files straight from the apps; production runs collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

# --- REST API --------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "patients.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["patients.permissions.IsClinicStaff"],
    "DEFAULT_SCHEMA_CLASS": "pumpcare.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "pumpcare.api.exception_handler",
    # Failed token attempts only (patients.authentication): no throttle on valid requests.
    "DEFAULT_THROTTLE_RATES": {"failed_token": API_FAILED_TOKEN_RATE},
    # Which X-Forwarded-For entry is the client (pumpcare.security.client_ip).
    "NUM_PROXIES": TRUSTED_PROXIES,
    # DRF's parsers plus a nesting limit and the text policy on every string.
    "DEFAULT_PARSER_CLASSES": [
        "pumpcare.parsers.JSONParser",
        "pumpcare.parsers.FormParser",
        "pumpcare.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "pumpcare API",
    "DESCRIPTION": (
        "Refills, low-reservoir alarm projections and bridge boluses for implanted intrathecal "
        "drug pumps. Every endpoint needs a logged-in clinic staff member (token: "
        "`Authorization: Token <key>`, or a session) and shows only that user's clinics. "
        "Units are in the field names; instants are ISO 8601 UTC; dates are the clinic's local dates."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc from our own static files (drf-spectacular-sidecar), not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The documented request body is JSON (README). Form data and multipart stay accepted for
    # the browsable API's forms but are no part of the contract: three identical bodies made
    # openapi-python-client generate code that does not import.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    # Every operation documents its refusals with one Error body (pumpcare.schema).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "pumpcare.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "PumpStatusEnum": "patients.models.PumpStatus",
        "PrescriptionModeEnum": "refills.models.PrescriptionMode",
        "SeverityEnum": "alerts.models.Severity",
        "RoleEnum": "patients.models.Role",
        "AppointmentKindEnum": "scheduling.models.AppointmentKind",
        "AppointmentStatusEnum": "scheduling.models.AppointmentStatus",
        "FeedDetailEnum": "scheduling.models.FeedDetail",
        "AlertKindEnum": "alerts.models.AlertKind",
        "MriFollowUpEnum": "patients.models.MriFollowUp",
        "DeliveryDriftEnum": "refills.models.DeliveryDrift",
    },
}

# --- Cache -----------------------------------------------------------------------------
# Worklist pages and stale-card counts are cached per data version (scheduling.worklist). By
# default each process has its own cache; CACHE_URL (redis://host:6379/1) gives the web
# workers one cache, so a page one worker rendered serves all of them. A cache that fails
# does not take a page down: it is rendered.
if os.environ.get("CACHE_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["CACHE_URL"],
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }

# --- Celery ----------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Embedded mode (no Redis): kombu's filesystem transport; web, worker and beat share a folder.
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
# No result backend by default (tasks record their outcome in the database); the
# benchmarks set one to wait for a fan-out to finish.
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
# Celery's Django fixup closes the database connections around every task unless this is
# set: a new PostgreSQL connection per task, which cost more than the task (half the time
# of a nightly batch, most of a reminder's send). Connections are recycled after this many
# tasks, and pumpcare.celery closes a broken or expired one (CONN_MAX_AGE) before each
# task, as Django does before each request.
CELERY_DB_REUSE_MAX = int(os.environ.get("CELERY_DB_REUSE_MAX", "500"))
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "pumpcare.beat:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# --- Email (Django's standard names) ---------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "pumpcare <noreply@localhost>")
# A send that hangs must end well before the outbox sweeper re-queues its row.
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "30"))

# --- Notification outbox (reminders, staff notices, escalations) -----------------------
# This installation's identifier in Message-IDs and iCalendar UIDs, so that two installations
# never send two different messages (or events) under one identifier. Empty: one generated
# when it is first needed and kept in the database (alerts.Installation), so it survives
# restarts and moves with the data. Set it when two installations share a copy of one
# database (a staging copy of production): letters, digits, '-' and '.' only.
PUMPCARE_INSTANCE_ID = os.environ.get("PUMPCARE_INSTANCE_ID", "").strip()
if PUMPCARE_INSTANCE_ID and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]{0,62}", PUMPCARE_INSTANCE_ID):
    raise ImproperlyConfigured(
        "PUMPCARE_INSTANCE_ID may hold letters, digits, '-' and '.' only (at most 63), "
        f"starting with a letter or digit (got {PUMPCARE_INSTANCE_ID!r})"
    )
# Links in emails (confirm attendance) point here.
PUMPCARE_BASE_URL = os.environ.get("PUMPCARE_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
PUMPCARE_NOTIFICATIONS = {
    # Reminders are due at this local time of the clinic, N days before (Clinic.reminder_days_before).
    "reminder_local_time": os.environ.get("PUMPCARE_REMINDER_LOCAL_TIME", "09:00"),
    # ALERT-1: an open alert is emailed to the on-call address again every so many hours,
    # by severity, until acknowledged (critical: past the projected empty time; warning:
    # past the alarm time, replacement book-by passed).
    "escalation_every_hours": {
        "critical": int(os.environ.get("PUMPCARE_ESCALATE_CRITICAL_HOURS", "4")),
        "warning": int(os.environ.get("PUMPCARE_ESCALATE_OVERDUE_HOURS", "24")),
    },
    # Delivery: attempts before a row is failed (and staff alerted), and the exponential
    # backoff between them (base × 2^(attempt − 1), capped).
    "max_attempts": int(os.environ.get("PUMPCARE_SEND_MAX_ATTEMPTS", "6")),
    "retry_base_seconds": float(os.environ.get("PUMPCARE_SEND_RETRY_BASE_SECONDS", "60")),
    "retry_max_seconds": float(os.environ.get("PUMPCARE_SEND_RETRY_MAX_SECONDS", "3600")),
    # The sweeper (run by the delivery tick every minute) re-queues a row still "sending"
    # this long after it was claimed: if its send never started (the task was lost with the
    # broker or a worker; nothing was sent), or if it started (its worker died mid-send; it
    # may have been sent: alerts.delivery says the bound).
    "unstarted_after_seconds": float(os.environ.get("PUMPCARE_SEND_UNSTARTED_AFTER_SECONDS", "60")),
    "stuck_after_seconds": float(os.environ.get("PUMPCARE_SEND_STUCK_AFTER_SECONDS", "600")),
    # Rows claimed per transaction by the delivery tick.
    "claim_batch_size": int(os.environ.get("PUMPCARE_SEND_CLAIM_BATCH", "500")),
}

if not DEBUG:
    # Production speaks HTTPS only (the proxy in docker-compose.yml terminates it):
    # cookies only over HTTPS, http redirected, and browsers told to remember (HSTS).
    # Preload is the domain owner's decision (hstspreload.org), so it is off by default.
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_count("SECURE_HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Change reasons (override reasons among them) can be long: keep them whole.
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Logged URLs name no patient and carry no link secret (pumpcare.logs): the
    # development server's access log and Django's "Not Found: <path>" warnings.
    # gunicorn's access log gets the same filter in pumpcare.gunicorn_conf.
    # An unreachable database: one line per outage, not a traceback per request (pumpcare.outage).
    "filters": {
        "redact_search_terms": {"()": "pumpcare.logs.RedactSearchTerms"},
        "database_outage": {"()": "pumpcare.outage.OutageLogFilter"},
    },
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["database_outage"]},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server"},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # WeasyPrint and fontTools narrate every PDF step at INFO.
        **{name: {"level": "WARNING"} for name in ("weasyprint", "fontTools")},
        "django.server": {
            "handlers": ["django.server"],
            "filters": ["redact_search_terms"],
            "level": "INFO",
            "propagate": False,
        },
        "django.request": {"filters": ["redact_search_terms"]},
    },
}

# --- Clinical defaults -----------------------------------------------------------------
# The numbers ../shared/DOMAIN.md gives that are not catalog data (pump models, catheters,
# drugs) or clinic settings. Each is a default a deployment may change; the calculation core
# receives them as arguments and never carries a number of its own.
# The calendar feed: booked appointments from this many days back, each this long when it
# has a time (scheduling settings, not clinical numbers).
# An edit that more projections than this read returns at once and leaves them to the
# workers (refills.projections.inputs_changed).
PUMPCARE_PROJECTIONS_INLINE_LIMIT = int(os.environ.get("PUMPCARE_PROJECTIONS_INLINE_LIMIT", "500"))
PUMPCARE_CALENDAR = {"past_days": 30, "appointment_minutes": 30}
PUMPCARE_DEFAULT_DRUG = os.environ.get("PUMPCARE_DEFAULT_DRUG", "baclofen")  # catalog code of a first fill
PUMPCARE_CLINICAL = {
    # TITRATE-1: limits per 24 hours, percent of the lowest daily dose in the window.
    "titration_limit_spinal_pct": "30",
    "titration_limit_cerebral_pct": "15",
    "titration_limit_pediatric_pct": "15",
    "titration_pediatric_below_age_years": 18,
    "titration_window_hours": 24,
    # START-1: screening bolus steps (mcg) and the effect duration beyond which the
    # screening dose itself is the starting daily dose.
    "screening_steps_mcg": ["50", "75", "100"],
    "screening_prolonged_effect_hours": "8",
    # RISK-1: starting doses, complete (Frankel A) against incomplete spinal cord lesions,
    # "about", shown as information.
    "frankel_a_starting_dose_mcg": "156",
    "incomplete_lesion_starting_dose_mcg": "44",
    # ALERT-1: a refill-by date within this many days and no booked refill is urgent.
    "alert_due_within_days": 7,
    # IMPLANT-1: hours of monitoring after the start of delivery at an implant, at least.
    "implant_monitoring_min_hours": "8",
    # ERI-1 / ERI-2
    "eos_after_eri_days": 90,
    "replacement_planning_opens_months_before_eri": 6,
    "replacement_book_by_days_before_eri": 90,
    # DRIFT-1: this many consecutive refills flagged in one direction raise a physician-review
    # alert (a pumpcare setting, not a clinical number).
    "drift_consecutive_refills": 2,
}
