"""Gatehouse settings: every value comes from the environment (django-environ) with an
embedded default, so the product runs out of the box on SQLite and an in-process cache.

With DEBUG off (production) the defaults are secure, and a process refuses to start on a
missing, default or weak SECRET_KEY or without GATEHOUSE_ENCRYPTION_KEY (see the bottom)."""

import ipaddress
import os
import tempfile
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# Good enough on a laptop, refused in production: anyone can read it here.
DEVELOPMENT_SECRET_KEY = "gatehouse-insecure-development-key-change-me"
SECRET_KEY = env.str("SECRET_KEY", default="") or (DEVELOPMENT_SECRET_KEY if DEBUG else "")
# Production answers only to the names it is given; development only to this machine.
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS only in production. Behind a load balancer that ends TLS, set SECURE_PROXY_SSL_HEADER
# to the header it sets and its value ("HTTP_X_FORWARDED_PROTO,https"); Django then trusts it.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = env.tuple("SECURE_PROXY_SSL_HEADER", default=None)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "proxies",
    "guardrails",
    "gateways",
    "deployments",
]

MIDDLEWARE = [
    "core.access_log.AccessLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "config.asgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets gateway processes read while the control plane writes.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
    DATABASES["default"]["OPTIONS"].setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
    # Gateway processes write (heartbeats, usage) while the control plane does; a deferred
    # transaction that reads and then writes would fail at once with "database is locked"
    # instead of waiting for the lock.
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    # A file, not memory: the test suite starts gateway processes that read the test DB.
    DATABASES["default"]["TEST"] = {
        "NAME": env.str("SQLITE_TEST_NAME", default="")
        or str(Path(tempfile.gettempdir()) / f"gatehouse-test-{os.getpid()}.sqlite3")
    }

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Rate-limit counters: shared by every gateway process through Redis; in-process without it.
GATEHOUSE_LIMITS_REDIS_URL = env.str("GATEHOUSE_LIMITS_REDIS_URL", default=REDIS_URL)
GATEHOUSE_LIMITS_REDIS_TIMEOUT = env.float("GATEHOUSE_LIMITS_REDIS_TIMEOUT", default=1.0)
GATEHOUSE_LIMITS_KEY_PREFIX = env.str("GATEHOUSE_LIMITS_KEY_PREFIX", default="gatehouse:limits:")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.api.permissions.ModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.ManagementPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Gatehouse management API",
    "DESCRIPTION": "Providers, proxies, guardrails, gateways, deployments and API keys.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}

# One JSON line per request on the ``gatehouse.access`` logger, gateway and control plane
# (``run_gateway --access-log`` turns it on for a gateway): never a secret, a query string or
# a body.
GATEHOUSE_ACCESS_LOG = env.bool("GATEHOUSE_ACCESS_LOG", default=False)
# Every log line as one JSON object (time, level, logger, message and the record's fields),
# the access log's format, for log shippers; ``text`` for reading in a terminal.
GATEHOUSE_LOG_FORMAT = env.str("GATEHOUSE_LOG_FORMAT", default="text" if DEBUG else "json")
if GATEHOUSE_LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured("GATEHOUSE_LOG_FORMAT must be json or text.")
JSON_LOG_FORMATTER = {
    "()": "pythonjsonlogger.orjson.OrjsonFormatter",
    "fmt": "{levelname}{name}{message}",
    "style": "{",
    "timestamp": "time",
    "rename_fields": {"levelname": "level", "name": "logger"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": JSON_LOG_FORMATTER,
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": GATEHOUSE_LOG_FORMAT},
        "access": {"class": "logging.StreamHandler", "formatter": "json"},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "gatehouse.access": {
            "handlers": ["access"],
            "level": "INFO" if GATEHOUSE_ACCESS_LOG else "WARNING",
            "propagate": False,
        },
        # The payload-log policy's lines (destination "log"): JSON, whatever the log format.
        "gatehouse.payload": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}

# --- Gatehouse ---------------------------------------------------------------
# Key used to encrypt provider credentials at rest (Fernet keys, comma separated; the first
# encrypts, all decrypt, so keys rotate). Required in production; with DEBUG on, a key is
# derived from SECRET_KEY when it is unset.
GATEHOUSE_ENCRYPTION_KEY = env.str("GATEHOUSE_ENCRYPTION_KEY", default="")
# Server-side pepper mixed into API key hashes (HMAC-SHA-256). Defaults to SECRET_KEY.
GATEHOUSE_KEY_PEPPER = env.str("GATEHOUSE_KEY_PEPPER", default="")
# A gateway is Active while one of its processes has sent a heartbeat this recently.
GATEHOUSE_HEARTBEAT_TTL = env.float("GATEHOUSE_HEARTBEAT_TTL", default=6.0)
GATEHOUSE_HEARTBEAT_INTERVAL = env.float("GATEHOUSE_HEARTBEAT_INTERVAL", default=1.0)
# Deployment records kept per (proxy, gateway); older ones are pruned on deploy.
GATEHOUSE_DEPLOYMENT_HISTORY = env.int("GATEHOUSE_DEPLOYMENT_HISTORY", default=20)
# The gateway the all-in-one server serves invoke traffic for.
GATEHOUSE_DEFAULT_GATEWAY = env.str("GATEHOUSE_DEFAULT_GATEWAY", default="default")
# Largest request body the gateway accepts (bytes).
GATEHOUSE_MAX_BODY_BYTES = env.int("GATEHOUSE_MAX_BODY_BYTES", default=10 * 1024 * 1024)
# Networks outside the public internet that upstreams may live in (CIDRs, comma separated),
# e.g. "10.0.0.0/8" for a self-hosted model server; loopback, link-local and private
# addresses are refused otherwise.
GATEHOUSE_ALLOWED_PRIVATE_NETWORKS = env.list("GATEHOUSE_ALLOWED_PRIVATE_NETWORKS", default=[])
# The same for the hosts the URL guardrail may check on a caller's behalf.
GATEHOUSE_URL_GUARDRAIL_ALLOWED_NETWORKS = env.list(
    "GATEHOUSE_URL_GUARDRAIL_ALLOWED_NETWORKS", default=[]
)
# Front-door limits of every gateway process (per process).
GATEHOUSE_MAX_HEADER_BYTES = env.int("GATEHOUSE_MAX_HEADER_BYTES", default=64 * 1024)
GATEHOUSE_MAX_HEADERS = env.int("GATEHOUSE_MAX_HEADERS", default=100)
GATEHOUSE_HEADER_TIMEOUT = env.float("GATEHOUSE_HEADER_TIMEOUT", default=10.0)
GATEHOUSE_BODY_TIMEOUT = env.float("GATEHOUSE_BODY_TIMEOUT", default=30.0)
GATEHOUSE_MAX_CONNECTIONS = env.int("GATEHOUSE_MAX_CONNECTIONS", default=4096)

# Admin sign-in throttling: after this many failed sign-ins for one username, or from one
# client address, within the window (seconds), further attempts are refused for the lockout
# (seconds). Counted in the cache, so Redis (REDIS_URL) makes it hold across processes.
GATEHOUSE_LOGIN_MAX_FAILURES = env.int("GATEHOUSE_LOGIN_MAX_FAILURES", default=5)
GATEHOUSE_LOGIN_FAILURE_WINDOW = env.int("GATEHOUSE_LOGIN_FAILURE_WINDOW", default=15 * 60)
GATEHOUSE_LOGIN_LOCKOUT = env.int("GATEHOUSE_LOGIN_LOCKOUT", default=15 * 60)
# The request header holding the client's address when a load balancer stands in front
# (e.g. "X-Forwarded-For", whose last entry the balancer appended); unset: the peer address.
GATEHOUSE_CLIENT_ADDRESS_HEADER = env.str("GATEHOUSE_CLIENT_ADDRESS_HEADER", default="")


# --- refusing insecure configuration ---------------------------------------------------------

GENERATE_SECRET_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(50))"'
GENERATE_FERNET_KEY = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


def configuration_problems(*, debug: bool) -> list[str]:
    """One line per setting this process must not run with, saying how to fix it. Production
    (DEBUG off) also needs a strong SECRET_KEY and its own credential encryption key: one
    derived from a known SECRET_KEY would decrypt stored credentials offline."""
    problems = []
    keys = [key.strip() for key in GATEHOUSE_ENCRYPTION_KEY.split(",") if key.strip()]
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except ValueError:
            problems.append(
                f"GATEHOUSE_ENCRYPTION_KEY: key {number} is not a Fernet key (32 url-safe "
                f"base64-encoded bytes). Generate one with: {GENERATE_FERNET_KEY}"
            )
    for name in ("GATEHOUSE_ALLOWED_PRIVATE_NETWORKS", "GATEHOUSE_URL_GUARDRAIL_ALLOWED_NETWORKS"):
        for network in filter(str.strip, globals()[name]):
            try:
                ipaddress.ip_network(network.strip(), strict=False)
            except ValueError:
                problems.append(
                    f"{name}: '{network}' is not an IP address or CIDR network (e.g. 10.0.0.0/8)."
                )
    if SECURE_PROXY_SSL_HEADER is not None and len(SECURE_PROXY_SSL_HEADER) != 2:
        problems.append(
            "SECURE_PROXY_SSL_HEADER must be a header and its value, "
            'e.g. "HTTP_X_FORWARDED_PROTO,https".'
        )
    if debug:
        return problems
    fix = f"Set it to a long random value, e.g. the output of: {GENERATE_SECRET_KEY}"
    if not SECRET_KEY:
        problems.append(f"SECRET_KEY is not set. {fix}")
    elif SECRET_KEY == DEVELOPMENT_SECRET_KEY:
        problems.append(f"SECRET_KEY is the development default, which anyone can read. {fix}")
    elif (
        len(SECRET_KEY) < SECRET_KEY_MIN_LENGTH
        or len(set(SECRET_KEY)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
        or SECRET_KEY.startswith(SECRET_KEY_INSECURE_PREFIX)
    ):
        problems.append(
            f"SECRET_KEY is weak: it needs at least {SECRET_KEY_MIN_LENGTH} characters, "
            f"{SECRET_KEY_MIN_UNIQUE_CHARACTERS} of them different, and no "
            f"'{SECRET_KEY_INSECURE_PREFIX}' prefix. {fix}"
        )
    if not keys:
        problems.append(
            "GATEHOUSE_ENCRYPTION_KEY is not set; provider credentials need their own key. "
            f"Generate one with: {GENERATE_FERNET_KEY}"
        )
    return problems


if problems := configuration_problems(debug=DEBUG):
    mode = "development" if DEBUG else "production (DEBUG is off)"
    raise ImproperlyConfigured(
        f"Gatehouse will not start in {mode} with this configuration:\n"
        + "\n".join(f"- {problem}" for problem in problems)
    )
