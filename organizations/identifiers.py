"""French organisation identifiers: SIREN, SIRET (Luhn, with La Poste's exception), RNA.

Rules from reference/domain.md §C.2: SIREN is 9 digits and SIRET 14 digits, both
passing the Luhn check, except La Poste's establishments (SIREN 356000000) whose
SIRET digits sum to a multiple of 5; a SIRET starts with its SIREN; an RNA number
is ``W`` followed by 9 digits.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

LA_POSTE_SIREN = "356000000"
SIREN_PATTERN = r"^\d{9}$"
SIRET_PATTERN = r"^\d{14}$"
RNA_PATTERN = r"^W\d{9}$"


def luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def siren_ok(value: str) -> bool:
    return bool(re.fullmatch(SIREN_PATTERN, value)) and luhn_ok(value)


def siret_ok(value: str) -> bool:
    if not re.fullmatch(SIRET_PATTERN, value):
        return False
    if luhn_ok(value):
        return True
    return value.startswith(LA_POSTE_SIREN) and sum(map(int, value)) % 5 == 0


def rna_ok(value: str) -> bool:
    return bool(re.fullmatch(RNA_PATTERN, value))


def validate_siren(value: str) -> None:
    if not siren_ok(value):
        raise ValidationError(
            _("“%(value)s” is not a valid SIREN (9 digits, Luhn checksum)."),
            code="invalid_siren",
            params={"value": value},
        )


def validate_siret(value: str) -> None:
    if not siret_ok(value):
        raise ValidationError(
            _("“%(value)s” is not a valid SIRET (14 digits, Luhn checksum)."),
            code="invalid_siret",
            params={"value": value},
        )


def validate_rna(value: str) -> None:
    if not rna_ok(value):
        raise ValidationError(
            _("“%(value)s” is not a valid RNA number (W followed by 9 digits)."),
            code="invalid_rna",
            params={"value": value},
        )
