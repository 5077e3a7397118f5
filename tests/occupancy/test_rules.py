"""The configurable legal caps and durations (occupancy/rules.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django.fixtures import Settings

from occupancy.rules import Rules, add_months, add_years, rules


def test_the_defaults_are_the_legal_values() -> None:
    r = Rules()
    assert r.elan_agreement_max_months == 36  # loi ELAN art. 29
    assert r.elan_prorogation_max_months == 12
    assert r.urgency_max_months == 12  # CG3P L.2122-1-2
    assert r.real_rights_max_years == 70  # CG3P L.2122-6
    assert r.releasing_notice_months == 6
    assert (r.residence_min_months, r.residence_max_months) == (2, 18)
    assert r.residence_fee_cap == Decimal("200.00")  # décret 2019-497
    assert r.residence_fee_cap_homeless == Decimal("75.00")  # CASF L.345-2-2
    assert r.residence_notice_by_body_months == 1
    assert r.residence_notice_by_resident_days == 15
    assert r.retention_years == 2
    assert r.small_cell_threshold == 5
    assert r.alert_agreement_ending_days == 90
    assert r.alert_insurance_expiring_days == 30
    assert r.document_max_bytes == 20 * 1024 * 1024


def test_rules_in_force_are_the_defaults_without_overrides(
    settings: Settings,
) -> None:
    settings.OCCUPANCY_RULES = {}
    assert rules() == Rules()


def test_a_setting_overrides_one_rule_and_keeps_the_others(
    settings: Settings,
) -> None:
    settings.OCCUPANCY_RULES = {
        "releasing_notice_months": 4,
        "residence_fee_cap": "180",
    }
    assert rules().releasing_notice_months == 4
    assert rules().residence_fee_cap == Decimal("180")
    assert rules().elan_agreement_max_months == 36


def test_rules_are_read_once_and_reread_when_the_setting_changes(
    settings: Settings,
) -> None:
    settings.OCCUPANCY_RULES = {"urgency_max_months": 6}
    first = rules()
    assert rules() is first
    settings.OCCUPANCY_RULES = {"urgency_max_months": 9}
    assert rules().urgency_max_months == 9


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"elan_max_years": 3}, "Unknown OCCUPANCY_RULES entries: elan_max_years."),
        ({"urgency_max_months": -1}, "must be a non-negative integer"),
        ({"urgency_max_months": "12"}, "must be a non-negative integer"),
        ({"urgency_max_months": True}, "must be a non-negative integer"),
        ({"residence_fee_cap": 1.5}, "must be an amount"),
        ({"residence_fee_cap": "-3"}, "must be ≥ 0"),
    ],
)
def test_a_bad_override_fails_loudly(
    settings: Settings, overrides: dict[str, object], message: str
) -> None:
    settings.OCCUPANCY_RULES = overrides
    with pytest.raises(ImproperlyConfigured, match=message):
        rules()


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 3, 1), 36, date(2029, 3, 1)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2027, 12, 31), 2, date(2028, 2, 29)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 5, 15), -6, date(2025, 11, 15)),
        (date(2026, 12, 10), 1, date(2027, 1, 10)),
    ],
)
def test_months_are_calendar_months_clamped_to_the_end_of_the_month(
    day: date, months: int, expected: date
) -> None:
    assert add_months(day, months) == expected


def test_a_29_february_anniversary_falls_on_28_february() -> None:
    assert add_years(date(2028, 2, 29), 1) == date(2029, 2, 28)
    assert add_years(date(2026, 4, 1), 70) == date(2096, 4, 1)
