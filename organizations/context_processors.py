from __future__ import annotations

from django.http import HttpRequest

from organizations.selectors import scope_for


def persona(request: HttpRequest) -> dict[str, object]:
    scope = scope_for(getattr(request, "user", None))
    return {"persona": scope.persona.value}
