"""Domain errors raised by services; the API and the pages turn them into 4xx."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused a write. ``field`` names the input at fault."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidTransition(DomainError):
    status_code = 409
    code = "invalid_transition"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
