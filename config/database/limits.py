"""Whether this thread is serving a web request: connections opened meanwhile
carry their alias's ``REQUEST_OPTIONS`` (the web's timeouts; config/database/base.py,
set by config.middleware.DatabaseLimitsMiddleware). Kept apart from the backend so
that the middleware module, which logging imports early, does not load it."""

from __future__ import annotations

from contextvars import ContextVar

serving_request: ContextVar[bool] = ContextVar("serving_request", default=False)
