"""Caps, durations, notice periods and alert windows of temporary occupancy.

Every number the law or our policy fixes lives here once, with its source, so a
change of law (or a stricter local policy) is a setting, not a code change:
``settings.OCCUPANCY_RULES = {"releasing_notice_months": 4}`` overrides one default.
Services read them through ``rules()``; no cap is written as a literal elsewhere.

Sources (reference/domain.md §B, §H): "V" rules were read in the cited text; "D" rules
are our design decisions. Durations in months are calendar months (``add_months``):
an occupation "of 3 years" starting on 1 March ends on the last day of February three
years later, i.e. its exclusive ``[)`` end is exactly 36 months after its start.
"""

from __future__ import annotations

import calendar
import dataclasses
import functools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed


@dataclass(frozen=True)
class Rules:
    # --- Agreements (domain.md §B.1, §B.4, §C.4)
    # Loi ELAN n° 2018-1021 art. 29, made permanent by loi n° 2023-668 art. 8: the
    # owner ↔ approved body convention lasts at most three years [V 11, 13] …
    elan_agreement_max_months: int = 36
    # … prorogable by periods of one year when the owner justifies that the planned
    # change of use cannot take place at the end of the occupation [V 11].
    elan_prorogation_max_months: int = 12
    # CG3P L.2122-1-2: the urgency exemption from the selection procedure limits
    # the occupation to one year [V 7].
    urgency_max_months: int = 12
    # CG3P L.2122-6: an occupation permit with real rights on the State's public
    # domain lasts at most 70 years [V 8].
    real_rights_max_years: int = 70
    # Building OCCUPIED → RELEASING, agreement ACTIVE → ENDING: from N months before
    # the end, without a notice of non-renewal [D, domain.md §D.1].
    releasing_notice_months: int = 6

    # --- ELAN residence contracts (décret n° 2019-497 du 22 mai 2019) [V 12]
    residence_min_months: int = 2  # initial duration at least two months
    residence_max_months: int = 18  # tacit renewals included
    # Monthly fee, all charges included (water, gas, electricity, heating) …
    residence_fee_cap: Decimal = Decimal("200.00")
    # … and for people covered by CASF L.345-2-2 (homeless in distress).
    residence_fee_cap_homeless: Decimal = Decimal("75.00")
    # Non-renewal or termination by the body: one month's notice; termination by
    # the resident, at any time, with fifteen days' notice.
    residence_notice_by_body_months: int = 1
    residence_notice_by_resident_days: int = 15

    # --- Personal data and statistics (domain.md §F)
    # Resident-level data are purged two years after the last exit: CNIL AU-048
    # (délib. 2016-095 art. 4) and the social-sector référentiel [V 32].
    retention_years: int = 2
    # What the purge does with them, a choice for the DPO [R, reliability.md §I4]:
    # "anonymise" cuts the occupant from the file number (random pseudonym, no age
    # band, orientation or L.345-2-2 flag), deletes the contracts and every history
    # row, and keeps the stays, hidden from every row-level view, so that the
    # indicators of past periods do not change; "delete" deletes the stays too.
    retention_mode: str = "anonymise"
    # The log of reads of resident data is kept this long: CNIL délibération
    # 2021-122 recommends 6 months to a year [R, reliability.md §H3].
    access_log_retention_months: int = 12
    # Aggregate cells under this many people are suppressed [D, §F.5].
    small_cell_threshold: int = 5

    # --- Alerts [D]
    alert_agreement_ending_days: int = 90
    alert_insurance_expiring_days: int = 30
    # ELAN art. 29 annual report to the approving prefect [V 13]: due on each
    # anniversary of the activation; the alert (and the window in which a report
    # counts for that anniversary) opens this many days before it.
    alert_annual_report_days: int = 30

    # --- Attached documents [D, reliability.md §G1]
    document_max_bytes: int = 20 * 1024 * 1024


_FIELDS = {field.name: field for field in dataclasses.fields(Rules)}
# The rules that name one of a few ways of doing something.
CHOICES = {"retention_mode": ("anonymise", "delete")}


def _coerce(name: str, value: Any) -> int | Decimal | str:
    expected = _FIELDS[name].type
    if name in CHOICES:
        if value not in CHOICES[name]:
            raise ImproperlyConfigured(
                f"OCCUPANCY_RULES[{name!r}] must be one of {', '.join(CHOICES[name])}."
            )
        return str(value)
    if expected == "Decimal":
        if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
            raise ImproperlyConfigured(f"OCCUPANCY_RULES[{name!r}] must be an amount.")
        amount = Decimal(value)
        if not amount.is_finite() or amount < 0:
            raise ImproperlyConfigured(f"OCCUPANCY_RULES[{name!r}] must be ≥ 0.")
        return amount
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ImproperlyConfigured(
            f"OCCUPANCY_RULES[{name!r}] must be a non-negative integer."
        )
    return value


@functools.cache
def rules() -> Rules:
    """The rules in force: the defaults above, overridden by settings.OCCUPANCY_RULES.

    Read once per process; an unknown name or a bad value fails loudly.
    """
    overrides: dict[str, Any] = dict(getattr(settings, "OCCUPANCY_RULES", {}) or {})
    unknown = sorted(set(overrides) - set(_FIELDS))
    if unknown:
        raise ImproperlyConfigured(
            f"Unknown OCCUPANCY_RULES entries: {', '.join(unknown)}."
        )
    values: dict[str, Any] = {
        name: _coerce(name, value) for name, value in overrides.items()
    }
    return Rules(**values)


def _reload(*, setting: str, **kwargs: Any) -> None:
    # Tests override OCCUPANCY_RULES with override_settings / the settings fixture.
    if setting == "OCCUPANCY_RULES":
        rules.cache_clear()


setting_changed.connect(_reload, dispatch_uid="occupancy.rules.reload")


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole calendar months (negative goes back), clamped to the
    month's last day: 31 January + 1 month = 28 (or 29) February."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def add_years(day: date, years: int) -> date:
    return add_months(day, 12 * years)
