"""The finance dashboard as files: CSV (the commitments) and XLSX (commitments,
disbursements and indicators, one sheet each).

They read exactly what the page shows: the caller's scoped, filtered commitments
(finance.selectors.commitment_rows) and the dashboard of the same filters. Cells
go through the inventory exports' helpers (buildings/exports.py): text that could
start a formula gets a leading apostrophe, numbers stay numbers and dates dates;
CSV is UTF-8 with a BOM, ``;``-separated, with decimal commas. Withheld figures
(fewer than 5 people) are written as the word "withheld", never as a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from buildings.exports import _csv_cell, _drain, _xlsx_cell
from finance.indicators import Dashboard, SiteFigures
from finance.models import Commitment, Disbursement
from occupancy.indicators import Figure

CHUNK_ROWS = 2000
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Column names are stable identifiers (English, like the API), not labels.
COMMITMENT_COLUMNS = (
    "id", "funder", "site", "agreement", "nature", "purpose", "decision_reference",
    "decision_date", "budget_programme", "start", "last_day", "amount", "disbursed",
    "disbursed_to_date", "remaining", "illustrative",
)  # fmt: skip
DISBURSEMENT_COLUMNS = (
    "id", "commitment", "funder", "date", "amount", "evidence_reference",
)  # fmt: skip
INDICATOR_COLUMNS = ("indicator", "site", "value", "unit")


def filename(extension: str) -> str:
    return f"financement-{timezone.localdate():%Y%m%d}.{extension}"


def commitment_values(rows: QuerySet[Commitment]) -> Iterator[tuple[Any, ...]]:
    """``COMMITMENT_COLUMNS`` for each row of ``finance.selectors.commitment_rows``."""
    for c in rows.iterator(chunk_size=CHUNK_ROWS):
        disbursed: Decimal = c.disbursed  # type: ignore[attr-defined]
        to_date: Decimal = c.disbursed_to_date  # type: ignore[attr-defined]
        yield (
            c.pk,
            c.funder.name,
            c.site.designation,
            c.agreement.reference if c.agreement else "",
            c.get_nature_display(),
            c.purpose,
            c.decision_reference,
            c.decision_date,
            c.budget_programme,
            c.start,
            c.last_day,
            c.amount,
            disbursed,
            to_date,
            c.amount - to_date,
            c.illustrative,
        )


def disbursement_values(
    rows: QuerySet[Disbursement],
) -> Iterator[tuple[Any, ...]]:
    """``DISBURSEMENT_COLUMNS``: plain values, no model instances (tens of
    thousands of rows)."""
    return rows.values_list(
        "pk", "commitment_id", "commitment__funder__name", "date", "amount",
        "evidence_reference",
    ).iterator(chunk_size=CHUNK_ROWS)  # fmt: skip


def _figure(figure: Figure) -> Any:
    return _("withheld") if figure.suppressed else figure.value


def indicator_values(dashboard: Dashboard) -> Iterator[tuple[Any, ...]]:
    """One row per figure: (indicator, site, value, unit)."""
    everywhere = _("All sites")
    yield (_("Committed"), everywhere, dashboard.totals.committed, "€")
    yield (_("Disbursed"), everywhere, dashboard.totals.disbursed, "€")
    yield (_("Loans committed"), everywhere, dashboard.loans_committed, "€")
    for variant in dashboard.cofunding:
        name = _("Co-funding share (%(basis)s, %(counted)s)") % {
            "basis": _("committed") if variant.basis == "committed" else _("disbursed"),
            "counted": _("cash only") if variant.cash_only else _("cash and in kind"),
        }
        for share in variant.shares:
            yield (f"{name}: {share.funder}", everywhere, share.share, "ratio")
    leverage = dashboard.leverage
    yield (_("State contributions"), everywhere, leverage.state, "€")
    yield (_("Non-State contributions"), everywhere, leverage.non_state, "€")
    yield (
        _("Leverage (non-State ÷ State)"),
        everywhere,
        leverage.non_state_per_state,
        "ratio",
    )
    yield (_("Leverage (total ÷ State)"), everywhere, leverage.total_per_state, "ratio")
    if dashboard.impact is not None:
        impact = dashboard.impact
        yield (_("People housed"), everywhere, _figure(impact.persons_housed), "")
        yield (_("Nights provided"), everywhere, _figure(impact.nights_provided), "")
        yield (_("Place-nights available"), everywhere, impact.place_nights, "")
        yield (_("Occupancy rate"), everywhere, _figure(impact.occupancy_rate), "ratio")
        if impact.note:
            yield (_("Note"), everywhere, impact.note, "")
    sites: list[SiteFigures] = list(dashboard.sites)
    if dashboard.site_total is not None:
        sites.append(dashboard.site_total)
    for site in sites:
        yield from _site_values(site)


def _site_values(site: SiteFigures) -> Iterable[tuple[Any, ...]]:
    name = site.designation
    yield (_("Operating costs"), name, site.operating_costs, "€")
    yield (_("Works"), name, site.works_costs, "€")
    yield (_("Cost per place per day"), name, site.cost_per_place_day, "€")
    yield (
        _("Cost per night provided"),
        name,
        _figure(site.cost_per_night),
        "€",
    )
    yield (
        _("Guarding cost avoided (estimate)"),
        name,
        site.guarding_avoided,
        "€",
    )
    yield (_("Owner's net balance (estimate)"), name, site.owner_net_balance, "€")
    yield (_("State contribution in kind"), name, site.state_in_kind, "€")
    yield (_("Sub-letting revenue"), name, site.subletting_revenue, "€")


def export_csv(rows: QuerySet[Commitment]) -> Iterator[bytes]:
    """The commitments, as buildings/exports.py writes CSV."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(COMMITMENT_COLUMNS)
    for number, row in enumerate(commitment_values(rows), start=1):
        writer.writerow([_csv_cell(value) for value in row])
        if number % CHUNK_ROWS == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def export_xlsx(
    *,
    rows: QuerySet[Commitment],
    disbursements: QuerySet[Disbursement],
    dashboard: Dashboard,
) -> bytes:
    """Three sheets; numbers as numbers, dates as dates, text as text, no formula."""
    workbook = Workbook(write_only=True)
    for title, columns, values in (
        ("engagements", COMMITMENT_COLUMNS, commitment_values(rows)),
        ("versements", DISBURSEMENT_COLUMNS, disbursement_values(disbursements)),
        ("indicateurs", INDICATOR_COLUMNS, indicator_values(dashboard)),
    ):
        sheet = workbook.create_sheet(title)
        sheet.append(columns)
        for row in values:
            sheet.append([_xlsx_cell(_plain(value)) for value in row])
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def _plain(value: Any) -> Any:
    # Lazy translations and the like become text; dates and numbers stay typed.
    if value is None or isinstance(value, bool | int | Decimal | date | str):
        return value
    return str(value)
