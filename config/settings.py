"""Intercalaire settings: one module, every deployment value read from the environment.

The README lists every variable. ``var/local.env`` (written by ``make run``) is read
first when it exists, without overriding the real environment.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import cast

import django_stubs_ext
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.env import (
    env_bool,
    env_choice,
    env_database,
    env_int,
    env_list,
    env_secret,
    env_str,
    load_env_file,
)

# Lets the typed generics of django-stubs (Admin[Model], QuerySet[Model]) run.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
load_env_file(Path(env_str("INTERCALAIRE_ENV_FILE", str(BASE_DIR / "var/local.env"))))

# --- Core
DEBUG = env_bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env_secret("DJANGO_SECRET_KEY")
if not DEBUG and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured(
        "Environment variable DJANGO_SECRET_KEY must be at least 50 characters "
        "when DJANGO_DEBUG is false."
    )
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
# Behind a proxy, the client address is the n-th from the right of X-Forwarded-For.
NUM_PROXIES = env_int("NUM_PROXIES", 0, minimum=0, maximum=5)

INSTALLED_APPS = [
    "config.apps.AdminConfig",  # django.contrib.admin, with config.admin.AdminSite
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_gis",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "knox",
    "axes",
    "csp",
    "dsfr",
    "pgtrigger",
    "pghistory",
    "procrastinate.contrib.django",
    "organizations",
    "buildings",
    "occupancy",
    "finance",
    "maps",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.RequestIdMiddleware",
    # Before any middleware that reads the database (the replica's, sessions).
    "config.middleware.DatabaseLimitsMiddleware",
    "config.database.routing.ReplicaMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.middleware.SessionIdleTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "pghistory.middleware.HistoryMiddleware",
    # Last, so that a lockout answers before any view runs.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "organizations.context_processors.persona",
                "occupancy.context_processors.disclosure",
            ],
        },
    },
]

# --- Database
DATABASES = {"default": env_database("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env_int(
    "DATABASE_CONN_MAX_AGE", 60, minimum=0, maximum=3600
)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Web requests are short: JIT compilation costs more than it saves (8–11 ms a list
# query, measured by make bench), and a parallel plan takes both cores from the other
# requests (reference/performance.md §4). A DATABASE_URL ?options=… wins.
WEB_CONNECTION_OPTIONS = "-c jit=off -c max_parallel_workers_per_gather=0"
cast(dict[str, str], DATABASES["default"]["OPTIONS"]).setdefault(
    "options", WEB_CONNECTION_OPTIONS
)
# Web requests are bounded (reliability.md K3): a statement running longer than
# WEB_STATEMENT_TIMEOUT_SECONDS is cancelled and the request answers 503
# (config/middleware.py), and a session left idle inside a transaction longer than
# WEB_IDLE_TRANSACTION_TIMEOUT_SECONDS is ended, releasing its locks. Only the
# connections a web request opens carry them (config/database/base.py): management
# commands (imports, migrations, the purge, the bench) and the job worker run unbounded.
# 0 turns a limit off.
WEB_STATEMENT_TIMEOUT_MS = 1000 * env_int(
    "WEB_STATEMENT_TIMEOUT_SECONDS", 15, minimum=0, maximum=3600
)
WEB_IDLE_TRANSACTION_TIMEOUT_MS = 1000 * env_int(
    "WEB_IDLE_TRANSACTION_TIMEOUT_SECONDS", 60, minimum=0, maximum=3600
)
WEB_REQUEST_OPTIONS = (
    f"-c statement_timeout={WEB_STATEMENT_TIMEOUT_MS} "
    f"-c idle_in_transaction_session_timeout={WEB_IDLE_TRANSACTION_TIMEOUT_MS}"
)
DATABASES["default"]["REQUEST_OPTIONS"] = WEB_REQUEST_OPTIONS
# Background jobs report progress through their own connection (autocommit), so that
# it is visible while the job's own transaction is still open. Tests share "default".
# Never bounded, even opened during a request: it belongs to the worker.
DATABASES["jobs"] = {
    **DATABASES["default"],
    "REQUEST_OPTIONS": "",
    "TEST": {"MIRROR": "default"},
}
# A PostGIS streaming replica for the read-only map and open-data traffic: the
# buildings list and exports, tiles, the inventory map's data and OGC API read
# the inventory there (config/database/routing.py). Unset: the primary serves all.
if env_str("DATABASE_REPLICA_URL", ""):
    DATABASES["replica"] = env_database("DATABASE_REPLICA_URL")
    for _key in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS", "REQUEST_OPTIONS"):
        DATABASES["replica"][_key] = DATABASES["default"][_key]
    _replica_options = cast(dict[str, str], DATABASES["replica"]["OPTIONS"])
    _replica_options.setdefault("options", WEB_CONNECTION_OPTIONS)
    # An unreachable replica must fail fast: requests then read from the primary.
    _replica_options.setdefault("connect_timeout", "2")
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["config.database.routing.ReplicaRouter"]
# After a successful write, a browser reads from the primary this long (seconds),
# so that an agent sees their own change despite replication lag.
DATABASE_REPLICA_PIN_SECONDS = env_int(
    "DATABASE_REPLICA_PIN_SECONDS", 10, minimum=0, maximum=3600
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHE_BACKEND = env_choice("CACHE_BACKEND", "locmem", ("locmem", "database", "redis"))
CACHES = {
    "default": {
        "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "database": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "intercalaire_cache",
        },
        "redis": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env_str("REDIS_URL", "redis://127.0.0.1:6379/0"),
        },
    }[CACHE_BACKEND]
}

# --- Authentication
AUTHENTICATION_BACKENDS = [
    # First, so that a locked-out username/address is refused before the password check.
    "axes.backends.AxesStandaloneBackend",
    "organizations.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"  # noqa: E501
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1, maximum=100)
AXES_COOLOFF_TIME = timedelta(
    minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1, maximum=24 * 60)
)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_IPWARE_PROXY_COUNT = NUM_PROXIES or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if NUM_PROXIES else ["REMOTE_ADDR"]
)
AXES_LOCKOUT_CALLABLE = "organizations.views.lockout_response"
# And a cap per account whatever the address, within an hour (OWASP ASVS 2.2.1:
# 100 at most), counted in the cache: organizations/lockout.py.
AXES_HANDLER = "organizations.lockout.LockoutHandler"
LOGIN_ACCOUNT_FAILURE_LIMIT = env_int(
    "LOGIN_ACCOUNT_FAILURE_LIMIT", 100, minimum=1, maximum=100
)

# Idle agents are logged out after 30 minutes, everyone after 12 hours at most.
SESSION_COOKIE_AGE = env_int("SESSION_MAX_AGE_SECONDS", 12 * 3600, minimum=300)
SESSION_IDLE_SECONDS = env_int("SESSION_IDLE_SECONDS", 30 * 60, minimum=60)
SESSION_ENGINE = "config.sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

# --- Security headers
SECURE = env_bool("DJANGO_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", default=True) and SECURE
# Health checks (compose, load balancers) call /healthz over plain HTTP from inside.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_HSTS_SECONDS = 31_536_000 if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
if NUM_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Maps draw basemap tiles from one configurable host; nothing else leaves the site.
BASEMAP_URL = env_str(
    "BASEMAP_URL",
    "https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2&STYLE=normal&FORMAT=image/png"
    "&TILEMATRIXSET=PM&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}",
)
BASEMAP_ATTRIBUTION = env_str(
    "BASEMAP_ATTRIBUTION", '&copy; <a href="https://www.ign.fr/">IGN</a> Plan IGN v2'
)
_basemap_origin = "/".join(BASEMAP_URL.split("/")[:3]) if "://" in BASEMAP_URL else ""
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:", *([_basemap_origin] if _basemap_origin else [])],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        # OpenLayers (admin map widget) starts its tile worker from a blob: URL.
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Internationalisation
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

# --- Static and media files
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var/static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "config.staticfiles.VendorFinder",
]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var/media")))
MEDIA_URL = "/media/"
# django-dsfr writes the package's own SRI hashes on its stylesheets, but the
# manifest storage rewrites the url(…) inside them when it collects them: the
# browser then refused the design system's CSS on every page (DEBUG off). The
# files are served from this origin, by this application.
DSFR_USE_INTEGRITY_CHECKSUMS = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- API
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 100, minimum=1, maximum=1000)
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 1000, minimum=1, maximum=10_000)
# numberMatched is exact up to this many rows, then the planner's estimate: an exact
# count grows with the table (reference/performance.md §3.6).
API_COUNT_CAP = env_int("API_COUNT_CAP", 10_000, minimum=100, maximum=1_000_000)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "organizations.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Deny unless a view opts in: public endpoints are an explicit allow-list.
    "DEFAULT_PERMISSION_CLASSES": ["config.permissions.DenyAll"],
    "DEFAULT_PAGINATION_CLASS": "config.permissions.PageNumberPagination",
    "PAGE_SIZE": API_PAGE_SIZE,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": ["config.parsers.JSONParser"],
    "DEFAULT_METADATA_CLASS": "config.metadata.AllowOnly",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_THROTTLE_ANON", "120/minute"),
        "user": env_str("API_THROTTLE_USER", "1200/minute"),
        "token": env_str("API_THROTTLE_TOKEN", "10/minute"),
    },
    # 0, not None: DRF trusts any X-Forwarded-For when NUM_PROXIES is None.
    "NUM_PROXIES": NUM_PROXIES,
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_VERSIONING_CLASS": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
API_TOKEN_TTL_DAYS = env_int("API_TOKEN_TTL_DAYS", 30, minimum=1, maximum=365)
API_TOKEN_LIMIT_PER_USER = env_int("API_TOKEN_LIMIT_PER_USER", 5, minimum=1)
REST_KNOX = {"TOKEN_TTL": timedelta(days=API_TOKEN_TTL_DAYS), "AUTO_REFRESH": False}
SPECTACULAR_SETTINGS = {
    "TITLE": "Intercalaire API",
    "DESCRIPTION": (
        "Temporary social use of vacant French State buildings: inventory, "
        "occupancy agreements, spaces, residents (pseudonymous) and co-funding."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
}

# --- System checks
# Each silenced check with its reason; README "Silenced checks" repeats them and a test
# keeps the two in step.
SILENCED_CHECKS_REASONS = {
    "gis.W001": (
        "Debian 12 ships GDAL 3.6, which cannot block file and network access from "
        "spatial references; untrusted files are opened only by the importers, through "
        "an allow-list of drivers, local temporary paths and size limits."
    ),
}
SILENCED_SYSTEM_CHECKS = list(SILENCED_CHECKS_REASONS)

# --- Imports and background jobs
IMPORT_UPLOAD_DIR = Path(env_str("IMPORT_UPLOAD_DIR", str(BASE_DIR / "var/imports")))
IMPORT_MAX_BYTES = (
    env_int("IMPORT_MAX_MB", 200, minimum=1, maximum=10_000) * 1024 * 1024
)
# Files larger than this run on the job queue (manage.py procrastinate worker).
IMPORT_BACKGROUND_BYTES = (
    env_int("IMPORT_BACKGROUND_MB", 5, minimum=0, maximum=10_000) * 1024 * 1024
)
PROCRASTINATE_AUTODISCOVER_MODULE_NAME = "tasks"

# --- Domain
# HMAC key turning an operator's own file number into a resident's pseudonym. Without
# it residents cannot be recorded; `check --deploy` refuses a deployment lacking it.
RESIDENT_PSEUDONYM_KEY = env_secret("RESIDENT_PSEUDONYM_KEY", "")
# Erasures on request (GDPR art. 17) are appended here, one JSON line each (ids,
# never a pseudonym), outside the database: after a restore from a backup taken
# before them, `manage.py replay_erasures` erases those residents again
# (reliability.md J2). Keep it on storage the database backups do not roll back.
RESIDENT_ERASURE_LOG = Path(
    env_str("RESIDENT_ERASURE_LOG", str(BASE_DIR / "var/erasures.jsonl"))
)
# The log of reads of resident data is copied here every day, as a hash chain
# (`manage.py export_reads`; reliability.md H3/H4): put it on write-only storage
# (an append-only file, a WORM bucket, a log host) the application cannot rewrite.
RESIDENT_READS_LOG = Path(
    env_str("RESIDENT_READS_LOG", str(BASE_DIR / "var/reads.jsonl"))
)
# Overrides of the legal and retention rules of occupancy/rules.py (caps, durations,
# notice periods, retention), for when the law or a local policy moves.
OCCUPANCY_RULES: dict[str, object] = {}

DEMO_PASSWORD = env_secret("DEMO_PASSWORD", "intercalaire-demo-2026")

# --- Logging
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s %(message)s"
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    # django-axes logs its banner at INFO on every start.
    "loggers": {"axes": {"level": "WARNING"}, "procrastinate": {"level": "WARNING"}},
    "root": {
        "handlers": ["console"],
        "level": env_choice(
            "DJANGO_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")
        ),
    },
}
