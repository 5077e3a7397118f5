"""Residents are known to the platform by a keyed hash of the operator's own file
number (GDPR art. 4(5), domain.md §F.3): same input and key, same pseudonym; another
key or operator, another one; no key, no residents."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django.fixtures import Settings

from config.errors import DomainError
from occupancy.models import Occupant, OccupantCategory, OccupantKind
from occupancy.residents import occupant_find, occupant_register, pseudonym_for
from tests.occupancy.factories import OperatorFactory

KEY = "k" * 64


@pytest.fixture(autouse=True)
def _key(settings: Settings) -> None:
    settings.RESIDENT_PSEUDONYM_KEY = KEY


def test_pseudonym_is_a_deterministic_hex_hmac() -> None:
    first = pseudonym_for(operator_id=7, local_identifier="DOSSIER-2026-001")
    assert first == pseudonym_for(operator_id=7, local_identifier="DOSSIER-2026-001")
    assert re.fullmatch(r"[0-9a-f]{64}", first)


def test_pseudonym_matches_hmac_sha256_of_operator_and_identifier() -> None:
    expected = hmac.new(KEY.encode(), b"7:DOSSIER-1", hashlib.sha256).hexdigest()
    assert pseudonym_for(operator_id=7, local_identifier="DOSSIER-1") == expected


def test_surrounding_spaces_of_the_file_number_do_not_change_the_pseudonym() -> None:
    assert pseudonym_for(operator_id=7, local_identifier=" A-1 ") == pseudonym_for(
        operator_id=7, local_identifier="A-1"
    )


def test_another_key_gives_another_pseudonym(settings: Settings) -> None:
    before = pseudonym_for(operator_id=7, local_identifier="A-1")
    settings.RESIDENT_PSEUDONYM_KEY = "z" * 64
    assert pseudonym_for(operator_id=7, local_identifier="A-1") != before


def test_two_operators_with_the_same_file_number_get_two_pseudonyms() -> None:
    assert pseudonym_for(operator_id=7, local_identifier="A-1") != pseudonym_for(
        operator_id=8, local_identifier="A-1"
    )


@pytest.mark.parametrize("key", ["", "short-key"])
def test_a_missing_or_short_key_refuses_with_a_clear_message(
    settings: Settings, key: str
) -> None:
    settings.RESIDENT_PSEUDONYM_KEY = key
    with pytest.raises(ImproperlyConfigured, match="RESIDENT_PSEUDONYM_KEY"):
        pseudonym_for(operator_id=7, local_identifier="A-1")


def test_an_empty_file_number_is_refused() -> None:
    with pytest.raises(DomainError) as error:
        pseudonym_for(operator_id=7, local_identifier="  ")
    assert error.value.field == "local_identifier"


@pytest.mark.django_db
def test_registering_twice_returns_the_same_occupant_and_stores_no_identifier() -> None:
    operator = OperatorFactory.create()
    first = occupant_register(
        operator=operator,
        local_identifier="DOSSIER-42",
        kind=OccupantKind.PERSON,
        category=OccupantCategory.SHELTERED,
    )
    again = occupant_register(
        operator=operator,
        local_identifier="DOSSIER-42",
        kind=OccupantKind.PERSON,
        category=OccupantCategory.SHELTERED,
    )
    assert again.pk == first.pk
    assert Occupant.objects.count() == 1
    assert occupant_find(operator=operator, local_identifier="DOSSIER-42") == first
    assert occupant_find(operator=operator, local_identifier="DOSSIER-43") is None
    stored = " ".join(str(v) for v in Occupant.objects.values_list().get())
    assert "DOSSIER-42" not in stored


@pytest.mark.django_db
def test_another_operator_does_not_find_the_resident() -> None:
    operator, other = OperatorFactory.create(), OperatorFactory.create()
    occupant_register(
        operator=operator,
        local_identifier="DOSSIER-42",
        kind=OccupantKind.PERSON,
        category=OccupantCategory.SHELTERED,
    )
    assert occupant_find(operator=other, local_identifier="DOSSIER-42") is None
