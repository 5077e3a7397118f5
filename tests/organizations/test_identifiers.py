"""SIREN, SIRET and RNA validation on real numbers and on every single-digit error."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import assume, given
from hypothesis import strategies as st

from organizations.identifiers import (
    luhn_ok,
    validate_rna,
    validate_siren,
    validate_siret,
)


def luhn_complete(payload: str) -> str:
    """``payload`` followed by the digit that makes it pass the Luhn check."""
    return next(payload + d for d in "0123456789" if luhn_ok(payload + d))


@pytest.mark.parametrize(
    "siret",
    [
        "73282932000074",
        "55210055400013",
        # La Poste's head office (passes Luhn like any other).
        "35600000000048",
        # A La Poste establishment number failing Luhn, whose digits sum to 25.
        "35600000000047",
    ],
)
def test_valid_siret_numbers_pass(siret: str) -> None:
    validate_siret(siret)


@pytest.mark.parametrize(
    "siren", ["180020026", "732829320", "552100554"], ids=["cdc", "ibm", "renault"]
)
def test_valid_siren_numbers_pass(siren: str) -> None:
    validate_siren(siren)


@pytest.mark.parametrize(
    ("siret", "why"),
    [
        ("73282932000075", "wrong checksum"),
        ("7328293200007", "13 digits"),
        ("732829320000740", "15 digits"),
        ("7328293200007A", "a letter"),
        ("732 829 320 00074", "spaces"),
        ("35600000000049", "La Poste prefix, digit sum 27 is not a multiple of 5"),
        ("", "empty"),
    ],
)
def test_invalid_siret_numbers_are_refused(siret: str, why: str) -> None:
    with pytest.raises(ValidationError) as error:
        validate_siret(siret)
    assert error.value.code == "invalid_siret", why


def test_the_la_poste_rule_applies_to_la_poste_numbers_only() -> None:
    """Same digit sum (25) as the accepted La Poste number, another SIREN: refused."""
    with pytest.raises(ValidationError):
        validate_siret("65300000000047")


@pytest.mark.parametrize(
    "siren", ["180020027", "18002002", "1800200260", "18002002A", "-18002002"]
)
def test_invalid_siren_numbers_are_refused(siren: str) -> None:
    with pytest.raises(ValidationError) as error:
        validate_siren(siren)
    assert error.value.code == "invalid_siren"


def test_a_valid_rna_number_passes() -> None:
    validate_rna("W133000000")


@pytest.mark.parametrize(
    "rna", ["133000000", "W13300000", "W1330000000", "w133000000", "X133000000"]
)
def test_invalid_rna_numbers_are_refused(rna: str) -> None:
    with pytest.raises(ValidationError) as error:
        validate_rna(rna)
    assert error.value.code == "invalid_rna"


@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_any_eight_digits_with_their_luhn_digit_make_a_valid_siren(
    payload: str,
) -> None:
    validate_siren(luhn_complete(payload))


@given(
    st.text(alphabet="0123456789", min_size=13, max_size=13).filter(
        lambda payload: not payload.startswith("356000000")
    )
)
def test_any_thirteen_digits_with_their_luhn_digit_make_a_valid_siret(
    payload: str,
) -> None:
    validate_siret(luhn_complete(payload))


@given(
    st.text(alphabet="0123456789", min_size=8, max_size=8),
    st.integers(min_value=0, max_value=8),
    st.integers(min_value=1, max_value=9),
)
def test_changing_one_digit_of_a_valid_siren_makes_it_invalid(
    payload: str, position: int, shift: int
) -> None:
    siren = luhn_complete(payload)
    changed = str((int(siren[position]) + shift) % 10)
    mutated = siren[:position] + changed + siren[position + 1 :]
    with pytest.raises(ValidationError):
        validate_siren(mutated)


@given(
    st.text(alphabet="0123456789", min_size=13, max_size=13).filter(
        lambda payload: not payload.startswith("356000000")
    ),
    st.integers(min_value=0, max_value=13),
    st.integers(min_value=1, max_value=9),
)
def test_changing_one_digit_of_a_valid_siret_makes_it_invalid(
    payload: str, position: int, shift: int
) -> None:
    """Outside La Poste, whose mod-5 rule tolerates some single-digit changes."""
    siret = luhn_complete(payload)
    changed = str((int(siret[position]) + shift) % 10)
    mutated = siret[:position] + changed + siret[position + 1 :]
    assume(not mutated.startswith("356000000"))
    with pytest.raises(ValidationError):
        validate_siret(mutated)
