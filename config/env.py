"""Typed readers for the environment: every deployment value goes through here.

Each reader raises ``ImproperlyConfigured`` naming the variable when a value is
missing or malformed, so a bad deployment fails at start-up rather than at the
first request. Every name read is recorded in ``READ`` (and the required ones in
``REQUIRED``) so a test can check docker-compose.yml and the README against it.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

READ: set[str] = set()
REQUIRED: set[str] = set()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def load_env_file(path: Path) -> None:
    """Fill ``os.environ`` from ``KEY=value`` lines; real variables win."""
    if not path.is_file():
        return
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ImproperlyConfigured(f"{path}:{number}: expected KEY=value")
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


def _raw(name: str, default: str | None) -> str:
    READ.add(name)
    if default is None:
        REQUIRED.add(name)
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"Environment variable {name} is required.")
        return default
    return value


def env_str(name: str, default: str | None = None) -> str:
    return _raw(name, default)


def env_secret(name: str, default: str | None = None) -> str:
    """A secret from ``NAME`` or from the file named by ``NAME_FILE``."""
    file_name = os.environ.get(f"{name}_FILE")
    READ.add(f"{name}_FILE")
    if file_name:
        READ.add(name)
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE points to an unreadable file: {exc}"
            ) from exc
    return _raw(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name, "true" if default else "false").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"Environment variable {name} must be a boolean (true/false), got {value!r}."
    )


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    value = _raw(name, str(default)).strip()
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"Environment variable {name} must be an integer, got {value!r}."
        ) from None
    if (minimum is not None and number < minimum) or (
        maximum is not None and number > maximum
    ):
        raise ImproperlyConfigured(
            f"Environment variable {name} must be between {minimum} and {maximum}, "
            f"got {number}."
        )
    return number


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in _raw(name, default).split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _raw(name, default).strip()
    if value not in choices:
        raise ImproperlyConfigured(
            f"Environment variable {name} must be one of {', '.join(choices)}, "
            f"got {value!r}."
        )
    return value


def env_database(name: str) -> dict[str, object]:
    """A Django DATABASES entry from ``postgres://user:pass@host:port/name``.

    ``host`` may be empty and given as ``?host=/path/to/socket-dir`` instead,
    which is how the project-local cluster under ``var/`` is reached.
    """
    url = _raw(name, None)
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "postgis"}:
        raise ImproperlyConfigured(
            f"Environment variable {name} must be a postgres:// URL, got scheme "
            f"{parts.scheme!r}."
        )
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ImproperlyConfigured(f"Environment variable {name} names no database.")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured(
            f"Environment variable {name} has an invalid port."
        ) from None
    return {
        "ENGINE": "config.database",
        "NAME": database,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": query.pop("host", None) or parts.hostname or "",
        "PORT": str(port or query.pop("port", "") or ""),
        "OPTIONS": query,
    }
