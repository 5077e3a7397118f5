"""Every date a client writes through the API is a day from 1900 to 2199, as on
the pages (config.forms.DAY_VALIDATORS): 0001-01-01 and 9999-12-31 are typing
slips, and date arithmetic on them overflows."""

from __future__ import annotations

import importlib
import inspect

import pytest
from rest_framework import serializers

from config.forms import DayField

MODULES = (
    "buildings.api.serializers",
    "finance.api.serializers",
    "occupancy.api.serializers.agreements",
    "occupancy.api.serializers.indicators",
    "occupancy.api.serializers.residents",
    "occupancy.api.serializers.spaces",
    "organizations.api.serializers",
)


def writable_dates() -> list[tuple[str, str, serializers.DateField]]:
    found = []
    for name in MODULES:
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, serializers.Serializer) or cls.__module__ != name:
                continue
            # ``fields``, not ``_declared_fields``: a ModelSerializer's dates
            # taken from the model (the buildings' vacancy_since, next_use_date)
            # are bounded by validators, and were left out of this check.
            for field_name, field in cls(context={}).fields.items():
                if isinstance(field, serializers.DateField) and not field.read_only:
                    found.append((cls.__qualname__, field_name, field))
    return found


def test_the_api_writes_dates() -> None:
    # The check below means something: there are such fields.
    assert len(writable_dates()) > 40


@pytest.mark.parametrize(
    ("serializer", "name", "field"),
    writable_dates(),
    ids=[f"{cls}.{name}" for cls, name, _ in writable_dates()],
)
def test_every_date_written_through_the_api_is_bounded(
    serializer: str, name: str, field: serializers.DateField
) -> None:
    assert isinstance(field, DayField) or field.validators, f"{serializer}.{name}"
    for slip in ("0001-01-01", "9999-12-31", "1899-12-31", "2200-01-01"):
        with pytest.raises(serializers.ValidationError):
            field.run_validation(slip)
    assert str(field.run_validation("2026-02-28")) == "2026-02-28"
