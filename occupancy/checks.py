from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register


@register(Tags.security, deploy=True)
def resident_pseudonym_key_is_set(**kwargs: Any) -> list[CheckMessage]:
    if len(settings.RESIDENT_PSEUDONYM_KEY) >= 32:
        return []
    return [
        Error(
            "RESIDENT_PSEUDONYM_KEY is missing or shorter than 32 characters.",
            hint="python -c 'import secrets; print(secrets.token_hex(32))'",
            id="occupancy.E001",
        )
    ]
