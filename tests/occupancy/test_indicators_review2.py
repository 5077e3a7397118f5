"""Second privacy review of the indicators' disclosure control
(occupancy/indicators.py: ``_tied_counts``, ``_exposes``, ``_published_parts``).

Each test is an attack by a State agent (or a funder) that combines figures it may
read, or a figure withheld for nothing; it asserts the safe behaviour and fails on
the code reviewed.

Tried and held (no test): the remainders of several agreements in one breakdown
adding up to a small count (7 parts left out of one, 5 movers of another: 2) —
the reader cannot tell the remainders apart, and one it could isolate is
checked on its own, so the sum names no group; destinations (non-negative and
additive, so remainders each 0 or >= 5 add up safely); a zero remainder hiding
a small withheld part (the row movers left shows them as neither gone nor
there); no 500 found (categories and uses are never NULL). Overlapping periods
(the known limit) were left aside.
"""

from __future__ import annotations

from datetime import date

import pytest
from django.db.backends.postgresql.psycopg_any import DateRange

from occupancy.indicators import WITHHELD, Figure, GroupBy
from occupancy.models import Agreement, ExitDestination, StayStatus
from tests.occupancy.factories import OccupantFactory, SpaceFactory
from tests.occupancy.test_indicators import (
    AGENT,
    MARCH,
    across,
    in_force,
    report,
    residents,
    single,
    stay,
)
from tests.occupancy.test_indicators_review import (
    first_space,
    small,
    value,
)

pytestmark = pytest.mark.django_db

JAN, FEB = date(2026, 1, 15), date(2026, 2, 1)


def back_in_march(a: Agreement, *, count: int) -> None:
    """``count`` people who come on 2 March, leave on 5 March and come back on
    20 March to stay: two entries, one exit, one stay under way, one household."""
    space = first_space(a)
    for _ in range(count):
        person = OccupantFactory.create(operator=a.operator)
        stay(
            a,
            space,
            occupant=person,
            period=DateRange(date(2026, 3, 2), date(2026, 3, 5)),
            status=StayStatus.EXITED,
            exit_destination=ExitDestination.UNKNOWN,
        )
        stay(a, space, occupant=person, period=DateRange(date(2026, 3, 20), None))


def test_exits_and_stays_under_way_less_entries_give_the_month_before() -> None:
    """Stock and flows: those there the night before the period = exits + stays
    under way − entries (less the stays past their planned end, as in |exits +
    stays − households|). Households − entries is checked as "those there on the
    first night", but returns make it negative and large: A housed 3 people from
    January, took in 5 on 10 March, and 10 who came on 2 March, left on 5 March
    and came back on 20 March. March's page: 18 households, 25 entries (−7), 10
    exits, 18 still there (+10): all shown. 10 + 18 − 25 = the 3 there on the
    last night of February, whose page withholds them (3 households)."""
    a = in_force(SpaceFactory.create(capacity=30))
    residents(a, (JAN, None), count=3)
    residents(a, (date(2026, 3, 10), None), count=5)
    back_in_march(a, count=10)
    february = single(report(a, start=FEB, end=MARCH[0], scope=AGENT))
    assert february.ongoing_at_end == WITHHELD  # 3
    march = single(report(a, scope=AGENT))
    shown = (march.households_housed, march.entries, march.exits, march.ongoing_at_end)
    if any(figure.suppressed for figure in shown):
        return  # withheld: safe
    before = value(march.exits) + value(march.ongoing_at_end) - value(march.entries)
    assert not small(before), (
        f"March: households {value(march.households_housed)}, entries "
        f"{value(march.entries)}, exits {value(march.exits)}, still there "
        f"{value(march.ongoing_at_end)}: {before} there on the last night of February"
    )


def test_the_same_by_month_over_the_territory() -> None:
    """The territory's report by month (February–March) over A (as above) and B
    (15 people who came on 10 March, 5 of whom left on 20 March; its page shows
    15, 15, 5 and 10): A's February (3 households) is left out
    and withheld, its March added up; March's row less B's March page gives A's
    March, whose exits + stays − entries are A's 3 of February."""
    a = in_force(SpaceFactory.create(capacity=30))
    residents(a, (JAN, None), count=3)
    residents(a, (date(2026, 3, 10), None), count=5)
    back_in_march(a, count=10)
    b = in_force(SpaceFactory.create(capacity=30))
    residents(b, (date(2026, 3, 10), None), count=10)
    residents(b, (date(2026, 3, 10), date(2026, 3, 20)), count=5)
    months = {
        row.start: row for row in across([a, b], group_by=GroupBy.MONTH, start=FEB).rows
    }
    march, page = months[MARCH[0]], single(report(b, scope=AGENT))
    names = ("exits", "ongoing_at_end", "entries")
    if any(getattr(march, name).suppressed for name in names):
        return  # withheld: safe
    a_march = {
        name: value(getattr(march, name)) - value(getattr(page, name)) for name in names
    }
    before = a_march["exits"] + a_march["ongoing_at_end"] - a_march["entries"]
    assert not small(before), f"A's March {a_march}: {before} there before March"


def test_households_less_stays_under_way_give_those_who_left_during_the_period() -> (
    None
):
    """Exits are the exits dated in the period, those dated on its first day
    too, whose people spent no night in it (not among its households): exits +
    stays − households is those, plus the returns, less the overdue stays.
    Households − stays under way is those of the period who left in it: A housed
    10 people from February on, 5 who left on 1 March (their last night was in
    February) and 2 who left on 15 March. March's page: 12 households, 0
    entries, 7 exits, 10 still there (+5): all shown. 12 − 10 = the 2 who
    left in March (entries, 0, withheld as a zero, are not needed); March's
    page from its second day withholds them (2 exits)."""
    a = in_force(SpaceFactory.create(capacity=30))
    residents(a, (FEB, None), count=10)
    residents(a, (FEB, MARCH[0]), count=5)
    residents(a, (FEB, date(2026, 3, 15)), count=2)
    assert single(report(a, start=date(2026, 3, 2), scope=AGENT)).exits == WITHHELD
    march = single(report(a, scope=AGENT))
    if march.households_housed.suppressed or march.ongoing_at_end.suppressed:
        return  # withheld: safe
    left = value(march.households_housed) - value(march.ongoing_at_end)
    assert not small(left), (
        f"March: households {value(march.households_housed)}, exits "
        f"{march.exits.value}, still there {value(march.ongoing_at_end)}: "
        f"{left} households of March left in March"
    )


# --- What the rule must not cost ---------------------------------------------------
def test_a_total_of_two_pages_shown_whole_is_not_withheld() -> None:
    """Over-suppression: A (10 people there all March, 5 who left on 1 March:
    10 households, 5 exits, 10 still there) and B (10 there all March, 5 gone on
    10 March, 7 past their planned end of 20 March with no exit recorded: 22
    households, 5 exits, 10 still there) are each shown on their pages. Their
    total (32 households, 10 exits, 20 still there) is the sum of the two
    pages, yet is withheld whole for its exits + stays − households = 5 − 7 =
    −2, which
    names nobody (A's first-day exits less B's overdue stays) and which the two
    pages give anyway."""
    a = in_force(SpaceFactory.create(capacity=30))
    residents(a, (FEB, None), count=10)
    residents(a, (FEB, MARCH[0]), count=5)
    b = in_force(SpaceFactory.create(capacity=30))
    residents(b, (FEB, None), count=10)
    residents(b, (FEB, date(2026, 3, 10)), count=5)
    space = first_space(b)
    for _ in range(7):
        stay(
            b,
            space,
            period=DateRange(FEB, date(2026, 3, 20)),
            status=StayStatus.EXIT_PLANNED,
        )
    pages = [single(report(agreement, scope=AGENT)) for agreement in (a, b)]
    assert [page.households_housed for page in pages] == [Figure(10), Figure(22)]
    assert [page.exits for page in pages] == [Figure(5), Figure(5)]
    assert [page.ongoing_at_end for page in pages] == [Figure(10), Figure(10)]
    total = across([a, b])
    assert total.agreements_left_out == 0
    row = single(total)
    assert (
        row.households_housed,
        row.exits,
        row.ongoing_at_end,
    ) == (Figure(32), Figure(10), Figure(20))
