"""Login lockout: django-axes' per username and address, and a cap per account.

axes counts failures per username and client address (``LOGIN_FAILURE_LIMIT`` in
``LOGIN_LOCKOUT_MINUTES``): an attacker rotating addresses got five guesses from
each, without end. Here every failure also counts against the username alone,
whatever the address, and past ``LOGIN_ACCOUNT_FAILURE_LIMIT`` failures within an
hour (OWASP ASVS 2.2.1: 100 at most) the account is locked like axes locks it:
the same refusal, before the password is checked, at the login page, the admin's,
the token endpoint and the admin's password change (all go through
``authenticate``), and the same answer
(``organizations.views.lockout_response``). The count is kept per username
string, so a username that names no account behaves the same.

The count lives in the cache (``CACHE_BACKEND``), in five-minute buckets: the
thirteen latest cover at least the last hour, so no hour ever holds more than the
limit. An attempt the lockout refused tested no password and is not counted, and
a success does not clear the count (the account's owner logging in would hand an
attacker a hundred more guesses).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 3600
BUCKET_SECONDS = 300
# The current bucket and the twelve before it: at least the last hour.
BUCKETS = WINDOW_SECONDS // BUCKET_SECONDS + 1
# Read by tests that move the clock; the cache's own expiry stays real time.
clock = time.time


def _buckets(username: str) -> tuple[list[int], list[str]]:
    """The counted buckets, oldest first, and their cache keys."""
    digest = hashlib.sha256(username.encode()).hexdigest()
    current = int(clock() // BUCKET_SECONDS)
    buckets = list(range(current - BUCKETS + 1, current + 1))
    return buckets, [f"login-failures:{digest}:{bucket}" for bucket in buckets]


def account_failure_record(username: str) -> int:
    """Counts a failed attempt on ``username``; returns the failures counted."""
    _, keys = _buckets(username)
    timeout = (BUCKETS + 1) * BUCKET_SECONDS
    cache.add(keys[-1], 0, timeout)
    try:
        cache.incr(keys[-1])
    except ValueError:  # expired between add and incr
        cache.set(keys[-1], 1, timeout)
    counts = cache.get_many(keys)
    return sum(counts.values())


def account_locked_for(username: str) -> int:
    """Seconds until ``username`` may try again; 0 when it is not locked."""
    limit: int = settings.LOGIN_ACCOUNT_FAILURE_LIMIT
    buckets, keys = _buckets(username)
    counts = cache.get_many(keys)
    remaining = sum(counts.values())
    if remaining < limit:
        return 0
    # Locked until enough of the oldest buckets stop being counted.
    for bucket, key in zip(buckets, keys, strict=True):
        remaining -= counts.get(key, 0)
        if remaining < limit:
            return math.ceil((bucket + BUCKETS) * BUCKET_SECONDS - clock())
    raise AssertionError("unreachable: the last bucket always frees the account")


class LockoutHandler(AxesDatabaseHandler):  # type: ignore[misc]
    """axes' database handler (``AXES_HANDLER``), with the per-account cap."""

    def is_locked(self, request: HttpRequest, credentials: Any = None) -> bool:
        username = get_client_username(request, credentials)
        locked = bool(super().is_locked(request, credentials)) or (
            username is not None and account_locked_for(username) > 0
        )
        # Read by user_login_failed: a refused attempt tested no password.
        request.login_refused = locked  # type: ignore[attr-defined]
        return locked

    def user_login_failed(
        self,
        sender: Any,
        credentials: Any,
        request: HttpRequest | None = None,
        **kwargs: Any,
    ) -> None:
        super().user_login_failed(sender, credentials, request=request, **kwargs)
        if request is None:
            return
        username = get_client_username(request, credentials)
        if username is None:
            return
        if not getattr(request, "login_refused", False):
            failures = account_failure_record(username)
            if failures == settings.LOGIN_ACCOUNT_FAILURE_LIMIT:
                logger.warning(
                    "Locking out account %r after %d failed logins within an hour.",
                    username,
                    failures,
                )
        if account_locked_for(username):
            request.axes_locked_out = True  # type: ignore[attr-defined]
            request.axes_credentials = credentials  # type: ignore[attr-defined]
