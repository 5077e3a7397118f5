"""Fifth privacy review of the indicators' disclosure control: a linear-algebra
audit (occupancy/indicators.py, ``_tied_counts``, ``_withhold``,
``_complementary``, ``_published_parts``).

One agreement, two uses (a bedroom, a workshop), February–March 2026. Households
follow TRAJECTORY TYPES (``TYPES``): n_t households of type t, drawn with a
fixed seed. Every count of people a State agent reads with the real code
(``indicators_get``, AGENT scope) — February's page, March's, February–March's,
February–March by month, and February's, March's and February–March's by use —
and that is not withheld is a linear function of n: its coefficient vector is
what one household of type t adds to it, computed by the same real code on an
agreement holding exactly one household of type t (operator scope, exact).

A group of types is derivable when its indicator vector lies in the row space
of the published figures' coefficients (exact rational elimination). Every
single type and every pair is tested; a derivable group of 1 to 4 households
is a leak. The figures are audited in sets (``SUBSETS``): one month's page
with its breakdown by use, both months (pages, by use, by month), the
February–March page with its breakdowns; ``ALL`` adds overlapping periods
(February–March less February: a known limit, printed, not failed on).

Findings (the audit test FAILS ON PURPOSE to document them; one hand-made
test each, after it):

- a page less ONE of its parts shown: ``_published_parts`` checks the whole
  less all the parts shown (and their sum), not less each subset of them. By
  month: the February–March page's households − entries less February's give
  those there in February who came (back) in March (3 returns);
- by use: March's page's exits + stays under way − households less the
  bedroom row's give the movers from the bedroom to the workshop (1), and
  households − entries the workshop's residents from before (seed 77, draw 46).

Seen and not kept: combinations that hold only because a type always has the
same destination (February's households − stays under way against the
page's known non-housing exits), or only in ``ALL`` (overlapping periods).
Held: one month's page with its breakdown by use at seed 20260301 (40 draws),
the two months together (pages, by use, by month) at that seed; no 500; the
operator's exact figures are linear in the type counts (asserted each draw).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from itertools import combinations
from typing import Any

import pytest
from django.db.backends.postgresql.psycopg_any import DateRange

from occupancy.indicators import GroupBy, IndicatorReport, indicators_get
from occupancy.models import (
    Agreement,
    ExitDestination,
    Occupant,
    Space,
    SpaceUse,
    Stay,
    StayStatus,
)
from organizations.selectors import Scope
from tests.occupancy.factories import OccupantFactory, SpaceFactory
from tests.occupancy.test_indicators import AGENT, in_force, own

pytestmark = pytest.mark.django_db

SEED = 20260301
DRAWS = 40
THRESHOLD = 5

J15 = date(2026, 1, 15)
FEB = date(2026, 2, 1)
MAR = date(2026, 3, 1)
APR = date(2026, 4, 1)


def d(month: int, day: int) -> date:
    return date(2026, month, day)


S, W = "sleeping", "work"
UNKNOWN = ExitDestination.UNKNOWN
# A segment: (space, entry, exit or None, status, destination). Consecutive
# segments belong to one occupant.
Segment = tuple[str, date, date | None, str, str]
ACTIVE, EXITED, PLANNED = StayStatus.ACTIVE, StayStatus.EXITED, StayStatus.EXIT_PLANNED
MOVE = ExitDestination.INTERNAL_MOVE


def seg(
    space: str, entry: date, left: date | None = None, dest: str = UNKNOWN
) -> Segment:
    if left is None:
        return (space, entry, None, ACTIVE, "")
    return (space, entry, left, EXITED, dest)


TYPES: dict[str, tuple[Segment, ...]] = {
    "stay": (seg(S, J15),),
    "leave_1feb": (seg(S, J15, FEB),),
    "leave_15feb": (seg(S, J15, d(2, 15), ExitDestination.STREET),),
    "leave_1mar": (seg(S, J15, MAR),),
    "leave_15mar": (seg(S, J15, d(3, 15), ExitDestination.SOCIAL_HOUSING),),
    "enter_15feb_stay": (seg(S, d(2, 15)),),
    "enter_1mar_stay": (seg(S, MAR),),
    "enter_15mar_stay": (seg(S, d(3, 15)),),
    "enter_15feb_leave_1mar": (seg(S, d(2, 15), MAR),),
    "enter_15feb_leave_15mar": (
        seg(S, d(2, 15), d(3, 15), ExitDestination.PRIVATE_HOUSING),
    ),
    "enter_1mar_leave_20mar": (seg(S, MAR, d(3, 20)),),
    "enter_5feb_leave_20feb": (
        seg(S, d(2, 5), d(2, 20), ExitDestination.FAMILY_FRIENDS),
    ),
    "return_feb_to_mar": (seg(S, J15, d(2, 15)), seg(S, MAR)),
    "return_within_feb": (seg(S, J15, d(2, 10)), seg(S, d(2, 20))),
    "return_within_mar": (seg(S, J15, d(3, 5)), seg(S, d(3, 20))),
    "overdue_15mar": ((S, J15, d(3, 15), PLANNED, ""),),
    "overdue_15feb": ((S, J15, d(2, 15), PLANNED, ""),),
    "move_s_to_w_15mar": ((S, J15, d(3, 15), EXITED, MOVE), seg(W, d(3, 15))),
    "move_s_to_w_1mar": ((S, J15, MAR, EXITED, MOVE), seg(W, MAR)),
    "move_w_to_s_15mar": ((W, J15, d(3, 15), EXITED, MOVE), seg(S, d(3, 15))),
    "w_stay": (seg(W, J15),),
    "w_enter_1mar_stay": (seg(W, MAR),),
    "w_leave_15mar": (seg(W, J15, d(3, 15)),),
    "w_enter_15feb_leave_15mar": (seg(W, d(2, 15), d(3, 15)),),
}
NAMES = list(TYPES)

# (label, start, end, group_by): the responses a State agent gets.
Query = tuple[str, date, date, GroupBy | None]
QUERIES: tuple[Query, ...] = (
    ("feb", FEB, MAR, None),
    ("mar", MAR, APR, None),
    ("febmar", FEB, APR, None),
    ("febmar_by_month", FEB, APR, GroupBy.MONTH),
    ("feb_by_use", FEB, MAR, GroupBy.USE),
    ("mar_by_use", MAR, APR, GroupBy.USE),
    ("febmar_by_use", FEB, APR, GroupBy.USE),
)
FIELDS = (
    "households_housed",
    "persons_housed",
    "entries",
    "exits",
    "ongoing_at_end",
    "exits_to_housing",
    "exits_known_destination",
)

Label = tuple[str, str, str]  # query, row (group or month), field


@dataclass
class Site:
    agreement: Agreement
    spaces: dict[str, Space]


def new_site() -> Site:
    bedroom = SpaceFactory.create(capacity=400)
    workshop = SpaceFactory.create(
        workshop=True, capacity=400, building=bedroom.building
    )
    assert workshop.use == SpaceUse.WORK
    return Site(in_force(bedroom, workshop), {S: bedroom, W: workshop})


def populate(site: Site, counts: dict[str, int]) -> None:
    agreement = site.agreement
    occupants: list[tuple[str, Occupant]] = []
    for name, n in counts.items():
        occupants += [
            (name, OccupantFactory.build(operator=agreement.operator)) for _ in range(n)
        ]
    Occupant.objects.bulk_create([occupant for _, occupant in occupants])
    Stay.objects.bulk_create(
        [
            Stay(
                agreement=agreement,
                space=site.spaces[space],
                occupant=occupant,
                period=DateRange(entry, left),
                status=status,
                exit_destination=dest,
            )
            for name, occupant in occupants
            for space, entry, left, status, dest in TYPES[name]
        ]
    )


def figures(
    agreement: Agreement, scope: Scope, queries: Iterable[Query] = QUERIES
) -> dict[Label, int | None]:
    """Every count of people of every response: None when withheld."""
    found: dict[Label, int | None] = {}
    for label, start, end, group_by in queries:
        result: IndicatorReport = indicators_get(
            agreements=Agreement.objects.filter(pk=agreement.pk),
            start=start,
            end=end,
            for_scope=scope,
            group_by=group_by,
        )
        for row in result.rows:
            key = row.group if group_by is not GroupBy.MONTH else str(row.start)
            for name in FIELDS:
                figure = getattr(row, name)
                found[(label, key, name)] = (
                    None if figure.suppressed else int(figure.value or 0)
                )
    return found


def coefficients(queries: Iterable[Query] = QUERIES) -> dict[Label, list[int]]:
    """What one household of each type adds to each figure (exact figures)."""
    columns: dict[Label, list[int]] = {}
    for index, name in enumerate(NAMES):
        site = new_site()
        populate(site, {name: 1})
        for label, value in figures(
            site.agreement, own(site.agreement), queries
        ).items():
            assert value is not None
            columns.setdefault(label, [0] * len(NAMES))[index] = value
    return columns


class RowSpace:
    """Rows added one by one, reduced (exact fractions), each remembering the
    combination of published figures it is."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.basis: list[tuple[int, list[Fraction], dict[Label, Fraction]]] = []

    def reduce(
        self, vector: list[Fraction], combo: dict[Label, Fraction]
    ) -> tuple[list[Fraction], dict[Label, Fraction]]:
        vector, combo = list(vector), dict(combo)
        for pivot, row, row_combo in self.basis:
            factor = vector[pivot]
            if factor:
                vector = [a - factor * b for a, b in zip(vector, row, strict=True)]
                for label, c in row_combo.items():
                    combo[label] = combo.get(label, Fraction(0)) - factor * c
        return vector, combo

    def add(self, label: Label, coefficients: list[int]) -> None:
        vector, combo = self.reduce(
            [Fraction(c) for c in coefficients], {label: Fraction(1)}
        )
        pivot = next((i for i, v in enumerate(vector) if v), None)
        if pivot is None:
            return
        scale = vector[pivot]
        vector = [v / scale for v in vector]
        combo = {k: v / scale for k, v in combo.items()}
        # Keep the basis fully reduced: the earlier rows lose this pivot.
        reduced = []
        for p, row, row_combo in self.basis:
            factor = row[pivot]
            if factor:
                row = [a - factor * b for a, b in zip(row, vector, strict=True)]
                row_combo = dict(row_combo)
                for k, c in combo.items():
                    row_combo[k] = row_combo.get(k, Fraction(0)) - factor * c
            reduced.append((p, row, row_combo))
        self.basis = [*reduced, (pivot, vector, combo)]

    def express(self, target: list[int]) -> dict[Label, Fraction] | None:
        """The published figures (with their factors) giving ``target``, or None."""
        vector, combo = self.reduce([Fraction(t) for t in target], {})
        if any(vector):
            return None
        # reduce() subtracted the combination: target = Σ (−combo) · figures.
        return {k: -v for k, v in combo.items() if v}


@dataclass
class Leak:
    draw: int
    group: tuple[str, ...]
    size: int
    counts: dict[str, int]
    # Labels: (query, row, field), or with the reader first (the multi-agreement
    # audit's (reader, query, row, field)).
    how: Mapping[Any, Fraction]
    values: Mapping[Any, int | None]

    def __str__(self) -> str:
        terms = " ".join(
            f"{'+' if f > 0 else '-'}{abs(f) if abs(f) != 1 else ''}"
            f"[{' '.join(str(part or 'page') for part in label)}"
            f"={self.values[label]}]"
            for label, f in sorted(self.how.items())
        )
        nonzero = {k: v for k, v in self.counts.items() if v}
        return (
            f"draw {self.draw}: {'+'.join(self.group)} = {self.size} from {terms}\n"
            f"    counts {nonzero}"
        )


# Sets of responses audited together. Overlapping periods (February–March's
# page less February's) are a known open limit (README, Known limits): the
# sets below but ``ALL`` have no two buckets that overlap without being the same
# (a month of a by-month report is that month's page).
SUBSETS: dict[str, tuple[str, ...]] = {
    "february": ("feb", "feb_by_use"),
    "march": ("mar", "mar_by_use"),
    "months": ("feb", "mar", "feb_by_use", "mar_by_use", "febmar_by_month"),
    "feb_mar_page": ("febmar", "febmar_by_month", "febmar_by_use"),
}
ALL = "all (overlapping periods: known limit)"


def audit(
    draw: int,
    counts: dict[str, int],
    columns: dict[Label, list[int]],
) -> dict[str, list[Leak]]:
    site = new_site()
    populate(site, counts)
    shown = figures(site.agreement, AGENT)
    n = [counts[name] for name in NAMES]
    published: list[tuple[Label, list[int]]] = []
    for label, value in sorted(shown.items()):
        coefficient = columns.get(label, [0] * len(NAMES))
        # The model is right: every figure is linear in the type counts.
        exact = sum(c * k for c, k in zip(coefficient, n, strict=True))
        if value is None:
            continue
        assert value == exact, (label, value, exact)
        published.append((label, coefficient))
    found: dict[str, list[Leak]] = {}
    for subset, queries in [*SUBSETS.items(), (ALL, tuple(q[0] for q in QUERIES))]:
        space = RowSpace(len(NAMES))
        for label, coefficient in published:
            if label[0] in queries:
                space.add(label, coefficient)
        found.setdefault(subset, []).extend(
            small_groups(space, NAMES, n, draw=draw, counts=counts, shown=shown)
        )
    return found


def small_groups(
    space: RowSpace,
    names: Sequence[str],
    n: Sequence[int],
    *,
    draw: int,
    counts: dict[str, int],
    shown: Mapping[Any, int | None],
) -> list[Leak]:
    """Each group of one or two types whose size is 1 to THRESHOLD − 1 and a
    combination of the figures in ``space`` (``n``: the draw's count of each
    type, in the order of ``names``)."""
    leaks = []
    for size in (1, 2):
        for group in combinations(range(len(names)), size):
            true = sum(n[i] for i in group)
            if not 0 < true < THRESHOLD:
                continue
            how = space.express([1 if i in group else 0 for i in range(len(names))])
            if how is not None:
                leaks.append(
                    Leak(
                        draw,
                        tuple(names[i] for i in group),
                        true,
                        counts,
                        how,
                        {k: shown[k] for k in how},
                    )
                )
    return leaks


def draws(count: int, seed: int = SEED) -> list[dict[str, int]]:
    rng = random.Random(seed)
    return [
        {name: (rng.randint(1, 12) if rng.random() < 0.55 else 0) for name in NAMES}
        for _ in range(count)
    ]


def test_linear_audit_of_what_a_state_agent_reads_finds_no_small_group() -> None:
    """FAILS ON PURPOSE (review 5): it documents the leaks below; the hand-made
    tests after it reproduce each distinct one."""
    columns = coefficients()
    leaks: dict[str, list[Leak]] = {}
    for draw, counts in enumerate(draws(DRAWS)):
        for subset, found in audit(draw, counts, columns).items():
            leaks.setdefault(subset, []).extend(found)
    failing = {}
    for subset, found in leaks.items():
        groups = sorted({leak.group for leak in found})
        print(f"== {subset}: {len(found)} leaks in {DRAWS} draws; groups {groups}")  # noqa: T201 (the audit report)
        seen = set()
        for leak in found:
            if leak.group not in seen:  # the first example of each group
                seen.add(leak.group)
                print(leak)  # noqa: T201
        if found and subset != ALL:
            failing[subset] = groups
    assert not failing, f"derivable groups of 1 to 4 households: {failing}"


def test_the_page_less_one_month_shown_gives_those_back_in_the_later_month() -> None:
    """Found by the audit (review 5), within one period: an agreement's page
    over February–March and its breakdown by month, every figure published.
    3 households there since January left on 5 March and came back on 20 March.
    The page's households less its entries (38 − 13 = 25) against February's
    (33 − 5 = 28) give the 3: the page less February alone (5 households new in
    March, 8 entries in March: 3 of them by households February counted).
    ``_published_parts`` checks the page less all the months shown, not less
    each of them: (38 − 61, 13 − 13, ...) names nobody."""
    site = new_site()
    populate(
        site,
        {
            "stay": 10,
            "enter_15feb_stay": 5,
            "enter_15mar_stay": 5,
            "return_within_mar": 3,
            "leave_15feb": 5,
            "leave_15mar": 5,
            "leave_1mar": 5,
            "leave_1feb": 5,
        },
    )
    shown = figures(
        site.agreement,
        AGENT,
        [q for q in QUERIES if q[0] in ("febmar", "febmar_by_month")],
    )
    page = (
        shown[("febmar", "", "households_housed")],
        shown[("febmar", "", "entries")],
    )
    february = (
        shown[("febmar_by_month", str(FEB), "households_housed")],
        shown[("febmar_by_month", str(FEB), "entries")],
    )
    if None in page or None in february:
        return  # withheld: safe
    assert page == (38, 13)
    assert february == (33, 5)
    back = (february[0] - february[1]) - (page[0] - page[1])
    assert not 0 < back < THRESHOLD, f"{back} households back in March"


def test_the_page_less_one_use_shown_gives_the_movers_between_uses() -> None:
    """Found by the audit (review 5, seed 77, draw 18), within one period:
    March's page and its breakdown by use. 1 household moved from the bedroom
    to the workshop on 15 March (9 the other way, 8 on 1 March). Exits + stays
    under way − households of the page (47 + 54 − 81 = 20) less the same of the
    bedroom's row (33 + 35 − 49 = 19) give the 1: in the bedroom it counts as a
    household neither gone nor still there, on the page as still there.
    ``_published_parts`` checks the page less all the rows shown (where the
    workshop's own movers and returns blur it), not less each of them."""
    site = new_site()
    populate(
        site,
        {
            "leave_1mar": 2,
            "enter_1mar_stay": 4,
            "enter_15mar_stay": 2,
            "enter_15feb_leave_1mar": 10,
            "enter_15feb_leave_15mar": 5,
            "enter_1mar_leave_20mar": 8,
            "return_feb_to_mar": 12,
            "return_within_mar": 8,
            "move_s_to_w_15mar": 1,
            "move_s_to_w_1mar": 8,
            "move_w_to_s_15mar": 9,
            "w_stay": 10,
            "w_leave_15mar": 8,
            "w_enter_15feb_leave_15mar": 6,
        },
    )
    shown = figures(
        site.agreement, AGENT, [q for q in QUERIES if q[0] in ("mar", "mar_by_use")]
    )

    def tied(query: str, row: str) -> int | None:
        values = [
            shown[(query, row, name)]
            for name in ("exits", "ongoing_at_end", "households_housed")
        ]
        if None in values:
            return None
        exits, ongoing, households = values
        return exits + ongoing - households  # type: ignore[operator]

    page, bedroom = tied("mar", ""), tied("mar_by_use", SpaceUse.SLEEPING)
    if page is None or bedroom is None:
        return  # withheld: safe
    assert (page, bedroom) == (20, 19)
    assert not 0 < page - bedroom < THRESHOLD, f"{page - bedroom} mover(s)"
