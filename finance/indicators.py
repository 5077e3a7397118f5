"""The finance dashboard: indicators 8–13 and 17 of reference/domain.md §E,
computed by PostgreSQL aggregates over the caller's scoped selection
(finance/selectors.py), with the occupancy figures of occupancy/indicators.py.

Every money total is a sum of SQL sums of exact decimals, so it equals one SQL
``SUM`` to the cent; amounts spread over time (cost lines over days, rents and
rates over months) are rounded to the cent row by row in SQL before they are
added. ``METHODOLOGY`` states each definition; the pages publish it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.postgres.aggregates import BoolOr
from django.db import connection
from django.db.models import Max, Min, QuerySet, Sum
from django.db.models.functions import Coalesce, ExtractYear
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django_stubs_ext import StrOrPromise

from buildings.models import Building
from finance.models import (
    CASH_NATURES,
    CONTRIBUTION_NATURES,
    CostCategory,
    Nature,
    Payer,
    is_state,
)
from finance.selectors import (
    Filters,
    filtered_commitments,
    filtered_disbursements,
    lower,
    upper,
)
from occupancy.indicators import (
    IN_FORCE_STATUSES,
    SUSPENSIONS_SQL,
    WITHHELD,
    Figure,
    GroupBy,
    IndicatorReport,
    indicators_get,
)
from occupancy.models import Agreement, AgreementStatus
from occupancy.rules import rules
from organizations.selectors import Scope

METHODOLOGY: StrOrPromise = gettext_lazy("""\
Committed: the amounts of the commitments shown, whole (a commitment is not split \
across years). Disbursed: the disbursements of those commitments, dated in the year \
when a year is chosen. By year, commitments count in the year of their decision and \
disbursements in the year of payment (authorisations vs payments).
Co-funding shares: each funder's contribution over the total, cash plus contributions \
in kind valued by their stated method (fee waivers included), and cash only; loans \
are repaid, so they are shown apart and counted in neither.
State money: commitments of State services and of organisations whose legal form is \
State administration. Leverage: non-State contributions ÷ State contributions, and \
all contributions ÷ State contributions, on committed amounts, cash and in kind.
Cost indicators cover the buildings of these commitments over the window (the year, \
or the commitments' periods) up to today. A cost line is spread evenly over the \
days of its period. Cost per place per day: operating costs (all payers, works \
excluded) ÷ place-nights available; per night provided: ÷ nights provided.
Occupied months: months with an agreement in force, less its suspensions (a \
safety closure is no occupation). Guarding cost avoided (an estimate): the monthly \
guarding baseline × occupied months − security costs borne by the owner over those \
months. Owner's net balance: guarding cost avoided + fees received − the owner's \
other costs. The State's contribution in kind: market rent × occupied years − fees \
paid (DDFiP value). Sub-letting revenue: area × monthly rate × months. Months are \
calendar months, a part-month counting its share of days.
People, nights and occupancy come from the occupancy indicators: counts under \
%(threshold)s people are withheld, with the figures that would reveal them. Outside \
an operator's own sites, their totals (and the cost per night provided of all sites) \
add up the sites whose figures are published, so that no total less a filtered view \
gives a withheld site away: sites under %(threshold)s people, and those withheld with \
them, are left out, and a person housed on two sites counts on each.""")


def methodology() -> str:
    """``METHODOLOGY`` in the active language, with the threshold in force."""
    return str(METHODOLOGY) % {"threshold": rules().small_cell_threshold}


ZERO = Decimal(0)
CENT = Decimal("0.01")
RATIO = Decimal("0.0001")


@dataclass(frozen=True)
class Progress:
    """Committed vs disbursed for one group (a funder, a site, a nature, a year)."""

    key: str
    label: str
    committed: Decimal
    disbursed: Decimal

    @property
    def rate(self) -> Decimal | None:
        return _ratio(self.disbursed, self.committed)

    @property
    def percent(self) -> Decimal | None:
        rate = self.rate
        return None if rate is None else rate * 100


@dataclass(frozen=True)
class Share:
    funder_id: int
    funder: str
    is_state: bool
    amount: Decimal
    share: Decimal | None


@dataclass(frozen=True)
class CoFunding:
    """One variant of indicator 12, named by its basis and what it counts."""

    basis: str  # "committed" or "disbursed"
    cash_only: bool
    total: Decimal
    shares: tuple[Share, ...]


@dataclass(frozen=True)
class Leverage:
    """Indicator 13 on committed contributions (cash and valued in kind)."""

    state: Decimal
    non_state: Decimal
    non_state_per_state: Decimal | None  # Σ non-State ÷ Σ State
    total_per_state: Decimal | None  # Σ all ÷ Σ State


@dataclass(frozen=True)
class SiteFigures:
    """Indicators 8–11 and 17 for one building (or the total of the selection)."""

    building_id: int | None
    designation: str
    longitude: float | None  # a position for the map, never money
    latitude: float | None
    committed: Decimal
    disbursed: Decimal
    operating_costs: Decimal
    works_costs: Decimal
    place_nights: int
    nights_provided: Figure
    cost_per_place_day: Decimal | None
    cost_per_night: Figure
    guarding_baseline_monthly: Decimal | None
    occupied_months: Decimal
    owner_security_costs: Decimal
    guarding_avoided: Decimal | None
    fees_received: Decimal
    owner_other_costs: Decimal
    owner_net_balance: Decimal | None
    state_in_kind: Decimal | None
    subletting_revenue: Decimal


@dataclass(frozen=True)
class Impact:
    """Occupancy of the funded buildings: aggregates only, small cells withheld.

    Outside an operator's own sites, the sums of the sites whose figures are
    published; ``sites_left_out`` counts the others (see ``_impact``)."""

    persons_housed: Figure
    households_housed: Figure
    nights_provided: Figure
    place_nights: int
    occupancy_rate: Figure
    threshold: int
    sites_left_out: int = 0

    @property
    def note(self) -> str:
        """What the totals leave out, in a sentence ("" when nothing)."""
        if not self.sites_left_out:
            return ""
        return ngettext(
            "Sites under %(threshold)s people, and those withheld with them, are "
            "left out of these totals: %(count)s site.",
            "Sites under %(threshold)s people, and those withheld with them, are "
            "left out of these totals: %(count)s sites.",
            self.sites_left_out,
        ) % {"threshold": self.threshold, "count": self.sites_left_out}

    @property
    def occupancy_percent(self) -> Figure:
        rate = self.occupancy_rate
        if rate.suppressed or rate.value is None:
            return rate
        return Figure(Decimal(rate.value) * 100)


@dataclass(frozen=True)
class Dashboard:
    filters: Filters
    window: tuple[date, date] | None  # [start, end) of the cost indicators
    totals: Progress
    by_funder: tuple[Progress, ...]
    by_site: tuple[Progress, ...]
    by_nature: tuple[Progress, ...]
    by_year: tuple[Progress, ...]
    cofunding: tuple[CoFunding, ...]
    leverage: Leverage
    loans_committed: Decimal
    sites: tuple[SiteFigures, ...]
    site_total: SiteFigures | None
    impact: Impact | None
    illustrative: bool
    methodology: str = field(default_factory=lambda: methodology(), repr=False)

    @property
    def window_start(self) -> date | None:
        return self.window[0] if self.window else None

    @property
    def window_end(self) -> date | None:
        return self.window[1] if self.window else None


def _ratio(numerator: Decimal | int, denominator: Decimal | int) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATIO)


def _per(amount: Decimal, count: int | Decimal | None) -> Decimal | None:
    if not count:
        return None
    return (amount / Decimal(count)).quantize(CENT)


def dashboard_get(
    *, scope: Scope, filters: Filters, today: date | None = None
) -> Dashboard:
    """Every figure of the finance dashboard for ``scope`` under ``filters``.

    A fixed number of queries whatever the number of commitments, disbursements
    or cost lines: two grouped sums, one query on the buildings, one for the site
    economics, and the occupancy indicators per site (again in total for an
    operator on its own sites, whose totals count each person once).
    """
    today = today or timezone.localdate()
    selection = filtered_commitments(scope=scope, filters=filters)
    committed_rows = (
        selection.order_by()
        .annotate(
            funded=Coalesce("agreement__building_id", "building_id"),
            year=ExtractYear("decision_date"),
        )
        .values(
            "funder_id",
            "funder__name",
            "funder__kind",
            "funder__legal_form",
            "nature",
            "funded",
            "year",
        )
        .annotate(
            amount=Sum("amount"),
            first=Min(lower("period")),
            last=Max(upper("period")),
            illustrative=BoolOr("illustrative"),
        )
    )
    disbursed_rows = (
        filtered_disbursements(commitments=selection, filters=filters)
        .order_by()
        .annotate(
            funded=Coalesce(
                "commitment__agreement__building_id", "commitment__building_id"
            ),
            year=ExtractYear("date"),
        )
        .values("commitment__funder_id", "commitment__nature", "funded", "year")
        .annotate(amount=Sum("amount"))
    )
    committed_groups: list[dict[str, Any]] = [dict(g) for g in committed_rows]
    disbursed_groups: list[dict[str, Any]] = [dict(g) for g in disbursed_rows]

    for group in committed_groups:
        group["state"] = is_state(group["funder__kind"], group["funder__legal_form"])
    funders = {
        g["funder_id"]: (g["funder__name"], g["state"]) for g in committed_groups
    }
    site_ids = sorted({g["funded"] for g in committed_groups})
    buildings: dict[int, dict[str, Any]] = {
        row["id"]: dict(row)
        for row in Building.objects.filter(pk__in=site_ids).values(
            "id", "designation", "point"
        )
    }

    def label_site(key: Any) -> str:
        building = buildings.get(key)
        return building["designation"] if building else str(key)

    natures = dict(Nature.choices)
    groupings: dict[str, tuple[str, str, Any]] = {
        # name: (committed key, disbursed key, label)
        "funder": ("funder_id", "commitment__funder_id", lambda k: funders[k][0]),
        "site": ("funded", "funded", label_site),
        "nature": ("nature", "commitment__nature", lambda k: str(natures[k])),
        "year": ("year", "year", str),
    }
    breakdowns: dict[str, tuple[Progress, ...]] = {}
    for name, (c_key, d_key, label) in groupings.items():
        committed = _sum_by(committed_groups, c_key)
        disbursed = _sum_by(disbursed_groups, d_key)
        keys = sorted(set(committed) | set(disbursed), key=_sort_key)
        rows = [
            Progress(
                key=str(k),
                label=label(k),
                committed=committed.get(k, ZERO),
                disbursed=disbursed.get(k, ZERO),
            )
            for k in keys
        ]
        if name != "year":  # largest first; years in order
            rows.sort(key=lambda p: (-p.committed, p.label))
        breakdowns[name] = tuple(rows)

    totals = Progress(
        key="",
        label=_("Total"),
        committed=sum((g["amount"] for g in committed_groups), ZERO),
        disbursed=sum((g["amount"] for g in disbursed_groups), ZERO),
    )
    window = _window(committed_groups, filters=filters, today=today)
    sites, site_total, impact = _site_figures(
        scope=scope,
        site_ids=site_ids,
        buildings=buildings,
        window=window,
        committed=_sum_by(committed_groups, "funded"),
        disbursed=_sum_by(disbursed_groups, "funded"),
    )
    return Dashboard(
        filters=filters,
        window=window,
        totals=totals,
        by_funder=breakdowns["funder"],
        by_site=breakdowns["site"],
        by_nature=breakdowns["nature"],
        by_year=breakdowns["year"],
        cofunding=_cofunding(committed_groups, disbursed_groups, funders),
        leverage=_leverage(committed_groups),
        loans_committed=sum(
            (g["amount"] for g in committed_groups if g["nature"] == Nature.LOAN),
            ZERO,
        ),
        sites=sites,
        site_total=site_total,
        impact=impact,
        illustrative=any(g["illustrative"] for g in committed_groups),
    )


def _sort_key(key: Any) -> tuple[int, Any]:
    return (0, key) if isinstance(key, int) else (1, str(key))


def _sum_by(groups: list[dict[str, Any]], key: str) -> dict[Any, Decimal]:
    """Sums of SQL group sums: exact (decimals), so equal to one SQL SUM."""
    sums: dict[Any, Decimal] = {}
    for group in groups:
        sums[group[key]] = sums.get(group[key], ZERO) + group["amount"]
    return sums


def _window(
    groups: list[dict[str, Any]], *, filters: Filters, today: date
) -> tuple[date, date] | None:
    """The days the cost indicators cover: the year, or the commitments' periods,
    in both cases up to today (what is realised, not what is planned)."""
    if not groups:
        return None
    if filters.year is not None:
        start, end = date(filters.year, 1, 1), date(filters.year + 1, 1, 1)
    else:
        start = min(g["first"] for g in groups)
        end = max(g["last"] for g in groups)
    end = min(end, today + timedelta(days=1))
    return (start, end) if start < end else None


def _cofunding(
    committed: list[dict[str, Any]],
    disbursed: list[dict[str, Any]],
    funders: dict[int, tuple[str, bool]],
) -> tuple[CoFunding, ...]:
    variants = []
    for basis, groups, funder_key, nature_key in (
        ("committed", committed, "funder_id", "nature"),
        ("disbursed", disbursed, "commitment__funder_id", "commitment__nature"),
    ):
        for cash_only in (False, True):
            counted = CASH_NATURES if cash_only else CONTRIBUTION_NATURES
            amounts = _sum_by(
                [g for g in groups if g[nature_key] in counted], funder_key
            )
            total = sum(amounts.values(), ZERO)
            shares = tuple(
                sorted(
                    (
                        Share(
                            funder_id=funder_id,
                            funder=funders[funder_id][0],
                            is_state=funders[funder_id][1],
                            amount=amount,
                            share=_ratio(amount, total),
                        )
                        for funder_id, amount in amounts.items()
                    ),
                    key=lambda s: (-s.amount, s.funder),
                )
            )
            variants.append(CoFunding(basis, cash_only, total, shares))
    return tuple(variants)


def _leverage(committed: list[dict[str, Any]]) -> Leverage:
    counted = [g for g in committed if g["nature"] in CONTRIBUTION_NATURES]
    state = sum((g["amount"] for g in counted if g["state"]), ZERO)
    non_state = sum((g["amount"] for g in counted if not g["state"]), ZERO)
    return Leverage(
        state=state,
        non_state=non_state,
        non_state_per_state=_ratio(non_state, state),
        total_per_state=_ratio(state + non_state, state),
    )


# --- Site economics (indicators 8–11, 17) ---------------------------------------------
def _months(expression: str) -> str:
    """SQL: the calendar months in the date range ``expression``, a part-month
    counting its share of days (1 March–16 March = 15/31)."""
    # Called with constant expressions only (see _ECONOMICS_SQL).
    return f"""(
        SELECT COALESCE(SUM(
            (LEAST(upper({expression}), (m + interval '1 month')::date)
             - GREATEST(lower({expression}), m::date))::numeric
            / ((m + interval '1 month')::date - m::date)
        ), 0)
        FROM generate_series(
            date_trunc('month', lower({expression})::timestamp),
            (upper({expression}) - 1)::timestamp,
            interval '1 month'
        ) AS m
    )"""  # noqa: S608


def _months_in(multirange: str) -> str:
    """SQL: the calendar months (as ``_months``) of the ranges of ``multirange``."""
    return f"(SELECT COALESCE(SUM({_months('r')}), 0) FROM unnest({multirange}) AS r)"  # noqa: S608


def _days_in(multirange: str) -> str:
    """SQL: the days of the ranges of ``multirange``."""
    return (
        f"(SELECT COALESCE(SUM(upper(r) - lower(r)), 0) FROM unnest({multirange}) AS r)"  # noqa: S608
    )


# Only constants reach the SQL text; values travel as parameters.
_ECONOMICS_SQL = f"""
WITH win AS (SELECT daterange(%(start)s, %(end)s, '[)') AS w),
shares AS (
    SELECT cl.building_id, cl.category, cl.payer,
           ROUND(cl.amount * (upper(cl.period * win.w) - lower(cl.period * win.w))
                 / (upper(cl.period) - lower(cl.period)), 2) AS amount
    FROM finance_costline cl, win
    WHERE cl.building_id = ANY(%(sites)s) AND cl.period && win.w
),
costs AS (
    SELECT building_id,
           COALESCE(SUM(amount) FILTER (WHERE category <> %(works)s), 0) AS operating,
           COALESCE(SUM(amount) FILTER (WHERE category = %(works)s), 0) AS works,
           COALESCE(SUM(amount) FILTER (
               WHERE payer = %(owner)s AND category <> %(security)s), 0
           ) AS owner_other
    FROM shares GROUP BY building_id
),
in_force AS (
    SELECT a.id, a.building_id, a.market_rent_yearly, a.period * win.w AS days
    FROM occupancy_agreement a, win
    WHERE a.building_id = ANY(%(sites)s) AND a.status = ANY(%(in_force)s)
      AND a.period && win.w
),
{SUSPENSIONS_SQL.format(agreements="agreement_id IN (SELECT id FROM in_force)")},
open AS (
    -- The days each agreement was in force and not suspended: a safety closure
    -- is no occupation (domain.md §E 2, 9, 11).
    SELECT f.id, f.building_id, f.market_rent_yearly,
           datemultirange(f.days) - COALESCE((
               SELECT range_agg(s.nights) FROM suspensions s WHERE s.agreement_id = f.id
           ), datemultirange()) AS days
    FROM in_force f
),
occupied AS (
    -- Agreements on one building may overlap (different spaces): their union.
    SELECT building_id, days, {_months_in("days")} AS months
    FROM (SELECT building_id, range_agg(days) AS days FROM open GROUP BY building_id) u
),
guards_paid AS (
    -- The owner's security costs over the occupied days only (domain.md §E 9):
    -- guards paid while the building stood empty are no saving's counterpart.
    SELECT cl.building_id,
           SUM(ROUND(cl.amount * {_days_in("datemultirange(cl.period) * o.days")}
                     / (upper(cl.period) - lower(cl.period)), 2)) AS amount
    FROM finance_costline cl JOIN occupied o ON o.building_id = cl.building_id
    WHERE cl.payer = %(owner)s AND cl.category = %(security)s
    GROUP BY cl.building_id
),
fees AS (
    SELECT fp.agreement_id, a.building_id, SUM(fp.amount) AS paid
    FROM finance_feepayment fp
    JOIN occupancy_agreement a ON a.id = fp.agreement_id, win
    WHERE a.building_id = ANY(%(sites)s) AND win.w @> fp.date
    GROUP BY fp.agreement_id, a.building_id
),
in_kind AS (
    SELECT f.building_id,
           SUM(ROUND(f.market_rent_yearly * {_months_in("f.days")} / 12, 2)
               - COALESCE(p.paid, 0)) AS amount
    FROM open f LEFT JOIN fees p ON p.agreement_id = f.id
    WHERE f.market_rent_yearly IS NOT NULL
    GROUP BY f.building_id
),
sublet AS (
    SELECT a.building_id,
           SUM(ROUND(s.area_m2 * s.rate_per_m2_month
                     * {_months("(s.period * win.w)")}, 2)) AS revenue
    FROM finance_subletting s
    JOIN occupancy_agreement a ON a.id = s.agreement_id, win
    WHERE a.building_id = ANY(%(sites)s) AND s.period && win.w
    GROUP BY a.building_id
)
SELECT b.id,
       COALESCE(sb.monthly_amount, b.guarding_cost_monthly) AS baseline,
       COALESCE(o.months, 0) AS months,
       ROUND(COALESCE(sb.monthly_amount, b.guarding_cost_monthly)
             * COALESCE(o.months, 0), 2) AS guarding,
       COALESCE(c.operating, 0), COALESCE(c.works, 0),
       COALESCE(g.amount, 0), COALESCE(c.owner_other, 0),
       COALESCE((SELECT SUM(paid) FROM fees WHERE fees.building_id = b.id), 0),
       k.amount,
       COALESCE(s.revenue, 0)
FROM buildings_building b
LEFT JOIN finance_securitybaseline sb ON sb.building_id = b.id
LEFT JOIN costs c ON c.building_id = b.id
LEFT JOIN occupied o ON o.building_id = b.id
LEFT JOIN guards_paid g ON g.building_id = b.id
LEFT JOIN in_kind k ON k.building_id = b.id
LEFT JOIN sublet s ON s.building_id = b.id
WHERE b.id = ANY(%(sites)s)
"""  # noqa: S608


@dataclass(frozen=True)
class _Economics:
    baseline: Decimal | None
    months: Decimal
    guarding_baseline_cost: Decimal
    operating: Decimal
    works: Decimal
    owner_security: Decimal
    owner_other: Decimal
    fees: Decimal
    in_kind: Decimal | None
    sublet: Decimal


def _economics(site_ids: list[int], window: tuple[date, date]) -> dict[int, _Economics]:
    params: dict[str, Any] = {
        "start": window[0],
        "end": window[1],
        "sites": site_ids,
        "in_force": list(IN_FORCE_STATUSES),
        "works": CostCategory.WORKS,
        "security": CostCategory.SECURITY,
        "owner": Payer.OWNER,
        "tz": settings.TIME_ZONE,
        "suspended": AgreementStatus.SUSPENDED,
    }
    with connection.cursor() as cursor:
        cursor.execute(_ECONOMICS_SQL, params)
        rows = cursor.fetchall()
    return {row[0]: _Economics(*row[1:]) for row in rows}


def _site_figures(
    *,
    scope: Scope,
    site_ids: list[int],
    buildings: dict[int, dict[str, Any]],
    window: tuple[date, date] | None,
    committed: dict[Any, Decimal],
    disbursed: dict[Any, Decimal],
) -> tuple[tuple[SiteFigures, ...], SiteFigures | None, Impact | None]:
    if not site_ids:
        return (), None, None
    economics: dict[int, _Economics] = {}
    per_site: dict[str, tuple[int, Figure]] = {}
    impact = None
    if window is not None:
        economics = _economics(site_ids, window)
        agreements = Agreement.objects.filter(building_id__in=site_ids)
        report = indicators_get(
            agreements=agreements,
            start=window[0],
            end=window[1],
            for_scope=scope,
            group_by=GroupBy.SITE,
        )
        per_site = {
            row.group: (row.place_nights_available or 0, row.nights_provided)
            for row in report.rows
        }
        impact = _impact(report, agreements=agreements, scope=scope)
    sites = []
    for site_id in site_ids:
        building = buildings.get(site_id, {})
        point = building.get("point")
        place_nights, nights = per_site.get(str(site_id), (0, Figure(0)))
        sites.append(
            _figures(
                building_id=site_id,
                designation=building.get("designation", str(site_id)),
                position=(point.x, point.y) if point is not None else None,
                committed=committed.get(site_id, ZERO),
                disbursed=disbursed.get(site_id, ZERO),
                economics=[economics[site_id]] if site_id in economics else [],
                place_nights=place_nights,
                nights=nights,
            )
        )
    sites.sort(key=lambda s: (-s.committed, s.designation))
    total = _figures(
        building_id=None,
        designation=_("All sites"),
        position=None,
        committed=sum(committed.values(), ZERO),
        disbursed=sum(disbursed.values(), ZERO),
        economics=list(economics.values()),
        place_nights=sum(site.place_nights for site in sites),
        # The nights of the impact: those of the sites whose nights are published,
        # over their own operating costs.
        nights=impact.nights_provided if impact else Figure(0),
        night_costs=_sum(
            [s.operating_costs for s in sites if not s.nights_provided.suppressed]
        ),
    )
    return tuple(sites), total, impact


def _impact(
    report: IndicatorReport, *, agreements: QuerySet[Agreement], scope: Scope
) -> Impact:
    """The people, nights and occupancy of the sites of ``report`` (by site).

    An operator on its own sites gets the exact figures of all of them (a person
    housed on two sites counted once). Anyone else gets the sums of the sites
    whose figures are published: a total over every site, less a site shown
    alone under a filter, would give a withheld site away (domain.md §F.5).
    Persons are withheld with households, and nights with them, so a site whose
    households are published is published whole.
    """
    if report.exact:
        rows = indicators_get(
            agreements=agreements, start=report.start, end=report.end, for_scope=scope
        ).rows
    else:
        rows = tuple(row for row in report.rows if not row.households_housed.suppressed)

    def total(name: str) -> int:
        return sum(getattr(row, name).value or 0 for row in rows)

    def shown(value: int | Decimal | None) -> Figure:
        return Figure(value) if rows else WITHHELD  # nothing published

    place_nights = sum(row.place_nights_available or 0 for row in rows)
    return Impact(
        persons_housed=shown(total("persons_housed")),
        households_housed=shown(total("households_housed")),
        nights_provided=shown(total("nights_provided")),
        place_nights=place_nights,
        occupancy_rate=shown(_ratio(total("nights_provided"), place_nights)),
        threshold=report.threshold,
        sites_left_out=0 if report.exact else len(report.rows) - len(rows),
    )


def _sum(values: list[Decimal]) -> Decimal:
    return sum(values, ZERO)


def _known_sum(values: list[Decimal | None]) -> Decimal | None:
    known = [value for value in values if value is not None]
    return sum(known, ZERO) if known else None


def _figures(
    *,
    building_id: int | None,
    designation: str,
    position: tuple[float, float] | None,
    committed: Decimal,
    disbursed: Decimal,
    economics: list[_Economics],
    place_nights: int,
    nights: Figure,
    night_costs: Decimal | None = None,
) -> SiteFigures:
    """``night_costs``: the costs over the nights, when not all operating costs."""
    operating = _sum([e.operating for e in economics])
    owner_security = _sum([e.owner_security for e in economics])
    owner_other = _sum([e.owner_other for e in economics])
    fees = _sum([e.fees for e in economics])
    # Avoided guarding only where a baseline is known: an unknown baseline is not
    # a zero one. The total adds the sites that have one.
    guarded = [e for e in economics if e.baseline is not None]
    avoided = (
        _sum([e.guarding_baseline_cost - e.owner_security for e in guarded])
        if guarded
        else None
    )
    if night_costs is None:
        night_costs = operating
    per_night = (
        WITHHELD if nights.suppressed else Figure(_per(night_costs, nights.value))
    )
    return SiteFigures(
        building_id=building_id,
        designation=designation,
        longitude=position[0] if position else None,
        latitude=position[1] if position else None,
        committed=committed,
        disbursed=disbursed,
        operating_costs=operating,
        works_costs=_sum([e.works for e in economics]),
        place_nights=place_nights,
        nights_provided=nights,
        cost_per_place_day=_per(operating, place_nights),
        cost_per_night=per_night,
        guarding_baseline_monthly=_known_sum([e.baseline for e in economics]),
        occupied_months=_sum([e.months for e in economics]),
        owner_security_costs=owner_security,
        guarding_avoided=avoided,
        fees_received=fees,
        owner_other_costs=owner_other,
        owner_net_balance=None if avoided is None else avoided + fees - owner_other,
        state_in_kind=_known_sum([e.in_kind for e in economics]),
        subletting_revenue=_sum([e.sublet for e in economics]),
    )
