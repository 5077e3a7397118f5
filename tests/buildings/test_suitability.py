"""The suitability score, checked against sums done by hand (buildings/suitability.py).

Weights (shelter / workspace / mixed):
safety 25/15/20, surface 15/20/20, condition 20/20/20, time_left 25/20/20,
accessibility 10/15/10, energy 5/10/10 — each use totals 100, so a score is the
plain sum of weight × value.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from buildings.models import Building
from buildings.suitability import suitability

TODAY = date(2026, 1, 15)
# suitability.py counts a month as 30.44 days: 36 months = 1,095.8 days.


def building(**fields: Any) -> Building:
    """An unsaved building: the score is a pure function of its fields."""
    return Building(designation="test", **fields)


def test_a_well_known_shelter_candidate_scores_by_hand() -> None:
    """A: a care-home ERP (type J), 1,500 m², good, 40 months left, accessible,
    90 kWh/m²."""
    result = suitability(
        building(
            erp=True,
            erp_type="J",
            surface_m2=Decimal("1500"),
            condition="good",
            next_use_date=TODAY + timedelta(days=1218),  # 1218 / 30.44 = 40.0 months
            accessibility="accessible",
            energy_kwh_ef=Decimal("135000"),  # 135,000 / 1,500 = 90 kWh/m² → 1.0
        ),
        today=TODAY,
    )
    # shelter:   25×1 + 15×min(1, 1500/1000)=15 + 20×1 + 25×1 + 10×1 + 5×1 = 100
    # workspace: 15×1 + 20×min(1, 1500/500)=20  + 20   + 20   + 15   + 10   = 100
    # mixed:     20×1 + 20×(1500/2000 = 0.75)=15 + 20  + 20   + 10   + 10   = 95
    assert result.scores == {"shelter": 100, "workspace": 100, "mixed": 95}
    assert result.completeness == 100
    assert result.details["mixed"]["surface"] == {
        "weight": 20,
        "value": 0.75,
        "contribution": 15.0,
    }


def test_an_office_building_with_a_short_horizon_scores_by_hand() -> None:
    """B: an office ERP (W), 1,000 m², fair, 18 months left, not accessible,
    250 kWh/m²."""
    result = suitability(
        building(
            erp=True,
            erp_type="W",
            surface_m2=Decimal("1000"),
            condition="fair",
            next_use_date=TODAY + timedelta(days=548),  # 548 / 30.44 = 18.0 → 0.6
            accessibility="not_accessible",
            energy_kwh_ef=Decimal("250000"),  # 250 kWh/m² → 0.4
        ),
        today=TODAY,
    )
    # shelter:   25×0.6 (an ERP where nobody may sleep) = 15
    #          + 15×1 (1000/1000) = 15 + 20×0.7 = 14 + 25×0.6 = 15 + 10×0 + 5×0.4 = 2
    #          = 61
    # workspace: 15×1 + 20×1 + 14 + 20×0.6 = 12 + 15×0 + 10×0.4 = 4          = 65
    # mixed:     20×1 + 20×0.5 (1000/2000) = 10 + 14 + 12 + 0 + 4             = 60
    assert result.scores == {"shelter": 61, "workspace": 65, "mixed": 60}
    assert result.completeness == 100
    assert result.details["shelter"]["safety"]["value"] == 0.6
    assert result.details["workspace"]["safety"]["value"] == 1.0


def test_a_building_known_only_by_its_surface_and_condition_scores_by_hand() -> None:
    """C: 3,000 m² in poor condition; ERP, horizon, accessibility, energy unknown."""
    result = suitability(
        building(surface_m2=Decimal("3000"), condition="poor"), today=TODAY
    )
    # shelter:   15×1 + 20×0.3 = 15 + 6 = 21 (the four unknowns count 0)
    # workspace: 20×1 + 20×0.3 = 20 + 6 = 26
    # mixed:     20×1 + 20×0.3 = 20 + 6 = 26
    # completeness: known mixed weights 20 + 20 out of 100 = 40 %
    assert result.scores == {"shelter": 21, "workspace": 26, "mixed": 26}
    assert result.completeness == 40


def test_unknown_inputs_contribute_nothing_and_lower_completeness() -> None:
    known = building(
        erp=False,
        surface_m2=Decimal("2000"),
        condition="good",
        next_use_date=TODAY + timedelta(days=1200),
        accessibility="accessible",
        energy_kwh_ef=Decimal("100000"),
    )
    unknown_erp = building(
        erp=None,
        surface_m2=Decimal("2000"),
        condition="good",
        next_use_date=TODAY + timedelta(days=1200),
        accessibility="accessible",
        energy_kwh_ef=Decimal("100000"),
    )

    with_erp = suitability(known, today=TODAY)
    without = suitability(unknown_erp, today=TODAY)

    # A non-ERP scores 0.4 on safety: 20 × 0.4 = 8 points of mixed use.
    assert with_erp.scores["mixed"] - without.scores["mixed"] == 8
    assert without.details["mixed"]["safety"] == {
        "weight": 20,
        "value": None,
        "contribution": 0.0,
    }
    assert with_erp.completeness == 100
    assert without.completeness == 80  # 100 − the safety weight of mixed use (20)


def test_an_empty_building_scores_zero_with_zero_completeness() -> None:
    result = suitability(building(), today=TODAY)

    assert result.scores == {"shelter": 0, "workspace": 0, "mixed": 0}
    assert result.completeness == 0


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (1096, 1.0),  # 36.01 months
        (1095, 0.85),  # 35.97
        (731, 0.85),  # 24.01
        (730, 0.6),  # 23.98
        (366, 0.6),  # 12.02
        (365, 0.3),  # 11.99
        (183, 0.3),  # 6.01
        (182, 0.0),  # 5.98
        (0, 0.0),
        (-30, 0.0),  # the next use is already due
    ],
)
def test_time_left_steps_at_6_12_24_and_36_months(days: int, expected: float) -> None:
    result = suitability(
        building(next_use_date=TODAY + timedelta(days=days)), today=TODAY
    )

    assert result.details["mixed"]["time_left"]["value"] == expected


@pytest.mark.parametrize(
    ("erp", "erp_type", "shelter", "workspace"),
    [
        (True, "J", 1.0, 1.0),  # care homes for the elderly
        (True, "O", 1.0, 1.0),  # hotels
        (True, "U", 1.0, 1.0),  # health care
        (True, "o", 1.0, 1.0),  # types are read case-blind
        (True, "W", 0.6, 1.0),  # offices: an ERP, but nobody sleeps there
        (True, "", 0.6, 1.0),
        (False, "", 0.4, 0.4),
        (None, "", None, None),
    ],
)
def test_only_sleeping_erp_types_make_a_full_safety_score_for_shelter(
    erp: bool | None, erp_type: str, shelter: float | None, workspace: float | None
) -> None:
    result = suitability(building(erp=erp, erp_type=erp_type), today=TODAY)

    assert result.details["shelter"]["safety"]["value"] == shelter
    assert result.details["workspace"]["safety"]["value"] == workspace


@pytest.mark.parametrize(
    ("kwh", "surface", "expected"),
    [
        ("100000", "1000", 1.0),  # 100 kWh/m²: the ceiling of the first step
        ("100010", "1000", 0.7),  # 100.01
        ("200000", "1000", 0.7),
        ("300000", "1000", 0.4),
        ("301000", "1000", 0.1),  # beyond 300 kWh/m²
        ("0", "1000", 1.0),
        ("100000", "0", None),  # no surface, no intensity
        ("100000", None, None),
    ],
)
def test_energy_intensity_steps(
    kwh: str, surface: str | None, expected: float | None
) -> None:
    result = suitability(
        building(
            energy_kwh_ef=Decimal(kwh),
            surface_m2=None if surface is None else Decimal(surface),
        ),
        today=TODAY,
    )

    assert result.details["mixed"]["energy"]["value"] == expected
