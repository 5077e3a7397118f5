"""Indicators 1–7 of domain.md §E against figures computed by hand.

The site: one building, an agreement in force all of 2026 on three spaces —
S1 (sleeping, 4 places), S3 (sleeping, 1 place), S2 (workshop, 2 places) —
suspended from 10 March (10:00) to 13 March (09:00): nights 10, 11 and 12 March
offer no place. Stays (nights are dates, [entry, exit)):

    P1 person       S1  20 Feb → 5 Mar   exited, social housing
    P2 household×3  S1   3 Mar → 20 Mar  exited, street (3 places)
    P3 person       S1  25 Mar → …       emergency, ongoing
    P4 person       S3  10 Jan → 15 Mar  moved to S1 on 15 Mar
                    S1  15 Mar → 28 Mar  exited, private housing
    P5 person       S1   1 Apr → …       (after March)
    P6 person       S1   1 Feb → 1 Mar   exited, unknown destination
    ORG hosted org  S2   1 Feb → …       2 places (not people)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.db.backends.postgresql.psycopg_any import DateRange
from django.test import Client
from django.utils import translation
from pytest_django import DjangoAssertNumQueries
from pytest_django.fixtures import Settings

from buildings.models import Building
from occupancy.indicators import (
    WITHHELD,
    Figure,
    GroupBy,
    IndicatorReport,
    IndicatorRow,
    indicators_get,
    people,
)
from occupancy.models import (
    Agreement,
    AgreementStatus,
    AgreementStatusChange,
    ExitDestination,
    OccupantCategory,
    OccupantKind,
    Space,
    SpaceUse,
    StayStatus,
)
from occupancy.residents import occupant_update, stay_exit, stay_move, stay_start
from organizations.models import Organization, OrganizationKind
from organizations.selectors import Persona, Scope
from tests.occupancy.factories import (
    AgreementFactory,
    OccupantFactory,
    OperatorFactory,
    SafetyInspectionFactory,
    SpaceFactory,
    StayFactory,
)

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
MARCH = (date(2026, 3, 1), date(2026, 4, 1))
TODAY = date(2026, 6, 1)


@pytest.fixture
def site() -> Agreement:
    s1 = SpaceFactory.create(capacity=4)
    s2 = SpaceFactory.create(workshop=True, capacity=2, building=s1.building)
    s3 = SpaceFactory.create(capacity=1, building=s1.building)
    agreement = AgreementFactory.create(
        building=s1.building,
        status=AgreementStatus.ACTIVE,
        period=DateRange(date(2026, 1, 1), date(2027, 1, 1)),
        sleeping_allowed=True,
        spaces=[s1, s2, s3],
    )
    SafetyInspectionFactory.create(building=s1.building, date=date(2025, 12, 1))
    for at, old, new in [
        (datetime(2026, 3, 10, 10, tzinfo=PARIS), "active", "suspended"),
        (datetime(2026, 3, 13, 9, tzinfo=PARIS), "suspended", "active"),
    ]:
        change = AgreementStatusChange.objects.create(
            agreement=agreement, from_status=old, to_status=new
        )
        # changed_at is auto_now_add: set the historical time afterwards.
        AgreementStatusChange.objects.filter(pk=change.pk).update(changed_at=at)

    def person(**fields: object) -> object:
        return OccupantFactory.create(operator=agreement.operator, **fields)

    def enter(occupant: object, space: object, entry: date, **kw: object) -> object:
        return stay_start(
            occupant=occupant,  # type: ignore[arg-type]
            space=space,  # type: ignore[arg-type]
            agreement=agreement,
            entry=entry,
            places=kw.pop("places", 1),  # type: ignore[arg-type]
            structure_type=kw.pop("structure_type", "insertion"),  # type: ignore[arg-type]
        )

    def leave(stay: object, on: date, destination: str) -> None:
        stay_exit(stay=stay, exit_date=on, destination=destination, today=TODAY)  # type: ignore[arg-type]

    p6 = enter(person(), s1, date(2026, 2, 1))
    leave(p6, date(2026, 3, 1), "unknown")
    p1 = enter(person(), s1, date(2026, 2, 20))
    leave(p1, date(2026, 3, 5), "social_housing")
    family = person(kind=OccupantKind.HOUSEHOLD, category="household", household_size=3)
    p2 = enter(family, s1, date(2026, 3, 3), places=3)
    leave(p2, date(2026, 3, 20), "street")
    enter(person(), s1, date(2026, 3, 25), structure_type="emergency")
    p4 = enter(person(), s3, date(2026, 1, 10))
    moved = stay_move(stay=p4, space=s1, on=date(2026, 3, 15), today=TODAY)  # type: ignore[arg-type]
    leave(moved, date(2026, 3, 28), "private_housing")
    enter(person(), s1, date(2026, 4, 1))
    org = person(
        kind=OccupantKind.ORGANIZATION,
        category="hosted_organization",
        hosted_organization=agreement.operator,
    )
    enter(org, s2, date(2026, 2, 1), places=2)
    return agreement


def own(agreement: Agreement) -> Scope:
    return Scope(
        user_id=1,
        persona=Persona.OPERATOR,
        operator_ids=frozenset({agreement.operator_id}),
    )


AGENT = Scope(user_id=2, persona=Persona.STATE_AGENT, departments=None)


def report(
    agreement: Agreement,
    *,
    start: date = MARCH[0],
    end: date = MARCH[1],
    group_by: GroupBy | None = None,
    scope: Scope | None = None,
) -> IndicatorReport:
    return indicators_get(
        agreements=Agreement.objects.filter(pk=agreement.pk),
        start=start,
        end=end,
        for_scope=scope or own(agreement),
        group_by=group_by,
    )


def single(result: IndicatorReport) -> IndicatorRow:
    (row,) = result.rows
    return row


def across(
    agreements: list[Agreement],
    *,
    group_by: GroupBy | None = None,
    scope: Scope = AGENT,
    start: date = MARCH[0],
) -> IndicatorReport:
    return indicators_get(
        agreements=Agreement.objects.filter(pk__in=[a.pk for a in agreements]),
        start=start,
        end=MARCH[1],
        for_scope=scope,
        group_by=group_by,
    )


def test_capacity_excludes_the_nights_of_suspension(site: Agreement) -> None:
    row = single(report(site))
    # 31 nights − 3 suspended = 28 open nights; (4 + 1 + 2) places × 28 = 196.
    assert row.place_nights_available == 196
    assert row.places_average == Decimal("6.3226")  # 196 / 31
    assert row.places_at_end == 7  # night of 31 March, agreement active


def test_nights_provided_and_occupancy_rate(site: Agreement) -> None:
    row = single(report(site))
    # P1 1–4 Mar = 4; P2 3–19 = 17; P3 25–31 = 7; P4 1–14 in S3 + 15–27 in S1 = 27;
    # ORG 31; P5 and P6 none in March. 4 + 17 + 7 + 27 + 31 = 86.
    assert row.nights_provided == Figure(86)
    assert row.occupancy_rate == Figure(Decimal("0.4388"))  # 86 / 196


def test_people_households_and_entries(site: Agreement) -> None:
    row = single(report(site))
    # P1, P2, P3, P4 present at least one night (not the organization).
    assert row.households_housed == Figure(4)
    assert row.persons_housed == Figure(6)  # 1 + 3 + 1 + 1
    # P2 (3 Mar) and P3 (25 Mar); P4's move into S1 is not an entry.
    assert row.entries == Figure(2)


def test_exits_destinations_and_lengths_of_stay(site: Agreement) -> None:
    row = single(report(site))
    # Exits dated in March: P6 (1 Mar), P1, P2, P4 (its move on 15 Mar is not one).
    assert row.exits == Figure(4)
    assert row.exits_to_housing == Figure(2)  # P1 social, P4 private
    assert row.exits_known_destination == Figure(3)
    assert row.exits_to_housing_rate == Figure(Decimal("0.6667"))  # 2 / 3
    assert row.unknown_destination_share == Figure(Decimal("0.2500"))  # 1 / 4
    # Lengths: P1 20 Feb→5 Mar 13; P2 17; P6 1 Feb→1 Mar 28; P4 10 Jan→28 Mar 77
    # (the move does not cut it). Mean 135 / 4 = 33.75; median (17 + 28) / 2.
    assert row.length_of_stay_mean_days == Figure(Decimal("33.8"))
    assert row.length_of_stay_median_days == Figure(Decimal("22.5"))
    # P3 is still there on the night of 31 March, 7 days after entering.
    assert row.ongoing_at_end == Figure(1)
    assert row.ongoing_mean_days == Figure(Decimal("7.0"))


def test_median_of_an_odd_number_of_stays_is_the_middle_one(site: Agreement) -> None:
    row = single(report(site, start=date(2026, 3, 2)))
    # P6 left on 1 March, before this period: 13, 17, 77 remain.
    assert row.exits == Figure(3)
    assert row.length_of_stay_median_days == Figure(Decimal("17.0"))
    assert row.length_of_stay_mean_days == Figure(Decimal("35.7"))  # 107 / 3


def test_grouped_by_use(site: Agreement) -> None:
    rows = {row.group: row for row in report(site, group_by=GroupBy.USE).rows}
    sleeping, work = rows[SpaceUse.SLEEPING], rows[SpaceUse.WORK]
    assert sleeping.place_nights_available == 140  # (4 + 1) × 28
    assert sleeping.nights_provided == Figure(55)  # 86 − 31
    assert sleeping.households_housed == Figure(4)
    assert work.place_nights_available == 56  # 2 × 28
    assert work.nights_provided == Figure(31)
    assert work.households_housed == Figure(0)


def test_grouped_by_category_has_no_places(site: Agreement) -> None:
    rows = {row.group: row for row in report(site, group_by=GroupBy.CATEGORY).rows}
    sheltered = rows["sheltered"]
    assert sheltered.place_nights_available is None
    assert sheltered.households_housed == Figure(3)  # P1, P3, P4
    assert sheltered.nights_provided == Figure(38)  # 4 + 7 + 27
    assert sheltered.exits == Figure(3)  # P1, P4, P6
    assert rows["household"].persons_housed == Figure(3)
    assert rows["hosted_organization"].nights_provided == Figure(31)


def test_grouped_by_site(site: Agreement) -> None:
    (row,) = report(site, group_by=GroupBy.SITE).rows
    assert row.group == str(site.building_id)
    assert row.nights_provided == Figure(86)


def test_grouped_by_month_cuts_the_period_at_month_starts(site: Agreement) -> None:
    rows = report(site, start=date(2026, 2, 15), group_by=GroupBy.MONTH).rows
    february, march = rows
    assert (february.start, february.end) == (date(2026, 2, 15), date(2026, 3, 1))
    assert february.place_nights_available == 98  # 7 places × 14 nights
    # P1 20–28 Feb = 9; P4 15–28 = 14; P6 15–28 = 14; ORG 14.
    assert february.nights_provided == Figure(51)
    assert february.households_housed == Figure(3)  # P1, P4, P6
    assert february.entries == Figure(1)  # P1
    assert february.exits == Figure(0)  # P6's exit is dated 1 March
    assert march.nights_provided == Figure(86)
    assert march.group == "2026-03-01"


def test_an_operator_sees_its_exact_figures(site: Agreement) -> None:
    result = report(site)
    assert result.exact
    assert not any(
        figure.suppressed
        for figure in vars(result.rows[0]).values()
        if isinstance(figure, Figure)
    )


def test_a_state_agent_gets_small_cells_withheld(site: Agreement) -> None:
    row = single(report(site, scope=AGENT))
    assert row.households_housed == WITHHELD  # 4
    # 6 persons, but in 4 households: the household is what identifies.
    assert row.persons_housed == WITHHELD
    assert row.entries == WITHHELD  # 2
    assert row.exits == WITHHELD  # 4
    # Figures that would give the withheld ones away go with them.
    assert row.nights_provided == WITHHELD
    assert row.length_of_stay_median_days == WITHHELD
    assert row.exits_to_housing_rate == WITHHELD
    # Places are not people.
    assert row.place_nights_available == 196


@pytest.mark.parametrize(("threshold", "shown"), [(1, True), (2, False)])
def test_the_destinations_split_is_withheld_when_one_of_its_cells_is_small(
    site: Agreement, settings: Settings, threshold: int, shown: bool
) -> None:
    """March's 4 exits went 2 to housing, 1 elsewhere, 1 unknown: with the exits
    published, the count to housing gave away the other two cells (found by a
    review: 6 exits, 1 to housing, was published as 1 to a State agent)."""
    settings.OCCUPANCY_RULES = {"small_cell_threshold": threshold}
    row = single(report(site, scope=AGENT))
    # One person is still there on the last night: under 2, the exits go with it
    # (the households less the exits would give it).
    assert row.exits == (Figure(4) if shown else WITHHELD)
    split = (
        row.exits_to_housing,
        row.exits_known_destination,
        row.exits_to_housing_rate,
        row.unknown_destination_share,
    )
    if shown:
        assert split == (
            Figure(2),
            Figure(3),
            Figure(Decimal("0.6667")),
            Figure(Decimal("0.2500")),
        )
    else:
        assert split == (WITHHELD,) * 4


def housing(
    households: int,
    *,
    exits: int = 0,
    building: Building | None = None,
    **occupant: object,
) -> Agreement:
    """An agreement in force all of 2026 on a space of 10 places (in a building of
    its own unless given), with ``households`` occupants (people alone unless
    ``occupant`` says otherwise) present from March on, the first ``exits`` of them
    gone on 15 March to an unknown destination."""
    space = SpaceFactory.create(
        capacity=10, **({"building": building} if building else {})
    )
    agreement = AgreementFactory.create(
        building=space.building,
        status=AgreementStatus.ACTIVE,
        period=DateRange(date(2026, 1, 1), date(2027, 1, 1)),
        spaces=[space],
    )
    for number in range(households):
        gone = number < exits
        StayFactory.create(
            agreement=agreement,
            space=space,
            occupant=OccupantFactory.create(operator=agreement.operator, **occupant),
            period=DateRange(date(2026, 3, 1), date(2026, 3, 15) if gone else None),
            status=StayStatus.EXITED if gone else StayStatus.ACTIVE,
            exit_destination=ExitDestination.UNKNOWN if gone else "",
        )
    return agreement


def test_one_household_of_six_is_not_published_as_six_people() -> None:
    agreement = housing(
        1, kind=OccupantKind.HOUSEHOLD, category="household", household_size=6
    )
    row = single(report(agreement, scope=AGENT))
    assert row.households_housed == WITHHELD  # 1
    assert row.persons_housed == WITHHELD  # 6, but one household


def test_a_single_withheld_cell_takes_the_next_smallest_with_it(
    site: Agreement,
) -> None:
    rows = {
        row.group: row for row in report(site, group_by=GroupBy.USE, scope=AGENT).rows
    }
    # Work has 0 persons (withheld); sleeping's 6 would reveal it from the total.
    assert rows[SpaceUse.WORK].persons_housed == WITHHELD
    assert rows[SpaceUse.SLEEPING].persons_housed == WITHHELD


def test_an_operator_looking_beyond_its_own_agreements_gets_withheld_cells(
    site: Agreement,
) -> None:
    other = AgreementFactory.create(status=AgreementStatus.ACTIVE)
    assert not across([site, other], scope=own(site)).exact


@pytest.mark.parametrize(
    ("value", "exact", "expected"),
    [
        (4, False, WITHHELD),
        (0, False, WITHHELD),
        (5, False, Figure(5)),
        (4, True, Figure(4)),
    ],
)
def test_people_counts_under_five_are_withheld_outside_the_operator(
    value: int, exact: bool, expected: Figure
) -> None:
    assert people(value, exact=exact) == expected


def test_indicators_take_a_fixed_number_of_queries(
    site: Agreement, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    # The agreement list, then capacity, presence and exits: aggregates in SQL,
    # whatever the number of stays.
    with django_assert_num_queries(4):
        report(site, group_by=GroupBy.MONTH)


def test_an_empty_selection_gives_zeros() -> None:
    operator = OperatorFactory.create()
    scope = Scope(
        user_id=1, persona=Persona.OPERATOR, operator_ids=frozenset({operator.pk})
    )
    row = single(
        indicators_get(
            agreements=Agreement.objects.none(),
            start=MARCH[0],
            end=MARCH[1],
            for_scope=scope,
        )
    )
    assert (row.place_nights_available, row.nights_provided) == (0, Figure(0))
    assert row.occupancy_rate == Figure(None)
    assert isinstance(operator, Organization)


# --- Every count from the agreements where it is published ----------------------------
def test_a_total_adds_up_published_agreements_only_so_no_subtraction_reveals_one() -> (
    None
):
    """Found by review: agreements of 6, 7, 8 and 2 households. By site, 2 is
    withheld and 6 with it; 6 is published on its own agreement's page; the total
    was 23, so 23 − 7 − 8 − 6 gave the small one away (2 households)."""
    six, seven, eight, two = (housing(n) for n in (6, 7, 8, 2))
    everyone = [six, seven, eight, two]
    by_site = {
        row.group: row.households_housed
        for row in across(everyone, group_by=GroupBy.SITE).rows
    }
    assert by_site == {
        # The small one is in no cell: its row counts 0, which needs no other
        # row withheld with it.
        str(six.building_id): Figure(6),
        str(seven.building_id): Figure(7),
        str(eight.building_id): Figure(8),
        str(two.building_id): WITHHELD,
    }
    assert single(report(six, scope=AGENT)).households_housed == Figure(6)

    total = across(everyone)
    row = single(total)
    assert row.households_housed == Figure(21)  # 6 + 7 + 8: the small one is not in
    assert row.place_nights_available == 4 * 10 * 31  # places are not people
    assert total.agreements_left_out == 1
    with translation.override("en"):
        assert total.note == (
            "Each count adds up the agreements, or their parts, where it reaches 5: "
            "1 agreement with fewer than 5 households, in all or in a part, is left "
            "out of the people, nights and occupancy rate there."
        )
    (march,) = across(everyone, group_by=GroupBy.MONTH).rows
    assert march.households_housed == Figure(21)


def test_a_count_withheld_on_an_agreement_it_is_published_beside_stays_out() -> None:
    """Found by review: the rule looked at households only. A (20 households, 1
    exit) and B (20, 10 exits): B's page shows 10 exits, and the total showed 11."""
    a = housing(20, exits=1)
    b = housing(20, exits=10)
    assert single(report(a, scope=AGENT)).exits == WITHHELD
    assert single(report(b, scope=AGENT)).exits == Figure(10)
    total = single(across([a, b]))
    assert total.exits == Figure(10)
    # A's 1 exit takes its other counts with it (households less exits less those
    # still there would give it): B alone.
    assert total.households_housed == Figure(20)


def test_agreements_sharing_a_building_are_cells_of_their_own() -> None:
    """Found by review: X (17 households) and Y (3) in one building: X's page
    showed 17, the site's row 20."""
    x = housing(17)
    y = housing(3, building=x.building)
    assert single(report(x, scope=AGENT)).households_housed == Figure(17)
    (site,) = across([x, y], group_by=GroupBy.SITE).rows
    assert site.households_housed == Figure(17)
    assert site.place_nights_available == 2 * 10 * 31


def test_a_month_adds_up_the_agreements_published_that_month() -> None:
    """Found by review: A housed 10 households in February and 3 in March (13 over
    both, published), B 8 in March. A's page for March withholds its 3; B's shows
    8; the March row counted A's March because A was published over the period:
    11 − 8 = 3."""
    a = housing(0)
    for period in [(date(2026, 2, 1), date(2026, 3, 1))] * 10 + [
        (date(2026, 3, 5), None)
    ] * 3:
        StayFactory.create(
            agreement=a,
            space=Space.objects.get(agreement_spaces__agreement=a),
            occupant=OccupantFactory.create(operator=a.operator),
            period=DateRange(*period),
            status=StayStatus.EXITED if period[1] else StayStatus.ACTIVE,
            exit_destination=ExitDestination.UNKNOWN if period[1] else "",
        )
    b = housing(8)
    february, march = date(2026, 2, 1), date(2026, 3, 1)
    whole = single(report(a, start=february, end=MARCH[1], scope=AGENT))
    # 13 households, but 3 still there on the last night: all withheld with them.
    assert whole.households_housed == WITHHELD
    assert single(report(a, scope=AGENT)).households_housed == WITHHELD  # March: 3
    assert single(report(b, scope=AGENT)).households_housed == Figure(8)
    by_month = across([a, b], group_by=GroupBy.MONTH, start=february).rows
    months = {row.start: row.households_housed for row in by_month}
    assert months[march] == Figure(8)  # B alone: A's 3 are not in it
    # Nor A's February: the total over both months (A's page) less February would
    # give March's 3; a lone month left out takes the smallest other with it.
    assert months[february] == WITHHELD
    total = single(across([a, b], start=february)).entries
    shown = sum(row.entries.value or 0 for row in by_month)
    assert total.value is not None
    difference = total.value - shown
    assert difference == 0 or difference >= 5


def stay(agreement: Agreement, space: Space, **fields: object) -> object:
    """A person alone in ``space`` from 1 March on (``fields`` overrides)."""
    return StayFactory.create(
        **{
            "agreement": agreement,
            "space": space,
            "occupant": OccupantFactory.create(operator=agreement.operator),
            "period": DateRange(date(2026, 3, 1), None),
            **fields,
        }
    )


def in_force(*spaces: Space) -> Agreement:
    return AgreementFactory.create(
        building=spaces[0].building,
        status=AgreementStatus.ACTIVE,
        period=DateRange(date(2026, 1, 1), date(2027, 1, 1)),
        spaces=list(spaces),
    )


def test_a_breakdown_adds_up_the_parts_of_an_agreement_published_on_their_own() -> None:
    """Found by review: A housed 4 households in a bedroom and 2 in a workshop
    (6, published on its page); B 10 in bedrooms, C 10 in a public space. By use,
    sleeping was 14: 14 − 10 (B's page) = A's 4, and 6 − 4 = its 2 in the
    workshop."""
    bedroom = SpaceFactory.create(capacity=10)
    workshop = SpaceFactory.create(workshop=True, building=bedroom.building)
    a = in_force(bedroom, workshop)
    for _ in range(4):
        stay(a, bedroom)
    for _ in range(2):
        stay(a, workshop)
    b = housing(10)
    hall = SpaceFactory.create(capacity=10, use=SpaceUse.PUBLIC)
    c = in_force(hall)
    for _ in range(10):
        stay(c, hall)
    assert single(report(a, scope=AGENT)).households_housed == Figure(6)
    uses = {
        row.group: row.households_housed
        for row in across([a, b, c], group_by=GroupBy.USE).rows
    }
    # A's parts are under 5 each: in no row.
    assert uses == {
        SpaceUse.PUBLIC: Figure(10),
        SpaceUse.SLEEPING: Figure(10),
        SpaceUse.WORK: WITHHELD,  # 0: counts nothing, needs nothing withheld
    }


def test_people_moving_between_agreements_count_under_each_as_on_their_pages() -> None:
    """Found by review: 2 of A's 10 households moved on 15 March to B, which took
    in 8 more. Each page showed 10 households and 10 entries, the total 18 and
    18: 20 − 18 gave the 2 movers away."""
    a = housing(10)
    space = SpaceFactory.create(capacity=10, building=a.building)
    b = in_force(space)
    b.operator = a.operator  # the same operator renews its agreement
    b.save(update_fields=["operator"])
    for moved in list(a.stays.order_by("pk")[:2]):
        type(moved).objects.filter(pk=moved.pk).update(
            period=DateRange(date(2026, 3, 1), date(2026, 3, 15)),
            status=StayStatus.EXITED,
            exit_destination=ExitDestination.INTERNAL_MOVE,
        )
        stay(
            b, space, occupant=moved.occupant, period=DateRange(date(2026, 3, 15), None)
        )
    for _ in range(8):
        stay(b, space, period=DateRange(date(2026, 3, 16), None))
    # A's 2 exits (the movers) withhold its page; B's shows 10 and 10.
    assert single(report(a, scope=AGENT)).households_housed == WITHHELD
    page = single(report(b, scope=AGENT))
    assert (page.households_housed, page.entries) == (Figure(10), Figure(10))
    # B's cell alone: the movers count under B as on its page, not once less.
    total = single(across([a, b]))
    assert (total.households_housed, total.entries) == (Figure(10), Figure(10))
    # The operator's own total follows each person across its agreements.
    exact = single(across([a, b], scope=own(a)))
    assert (exact.households_housed, exact.entries) == (Figure(18), Figure(18))


def test_an_agreement_that_housed_nobody_counts_in_the_occupancy_rate() -> None:
    """Found by review: nobody is under 5, so an empty agreement left the rate
    (1.0 for the State, 0.5 for the operator)."""
    full = housing(10)
    empty = in_force(SpaceFactory.create(capacity=10))
    row = single(across([full, empty]))
    assert row.place_nights_available == 2 * 10 * 31
    assert row.nights_provided == Figure(10 * 31)
    assert row.occupancy_rate == Figure(Decimal("0.5000"))
    assert across([full, empty]).agreements_left_out == 0


def test_exits_and_stays_under_way_are_shown_together() -> None:
    """Found by review: the households less the stays under way gave the exits
    (20 − 19 = 1), and the households less the exits the stays (10 − 7 = 3)."""
    one_exit = single(report(housing(20, exits=1), scope=AGENT))
    assert (one_exit.exits, one_exit.ongoing_at_end) == (WITHHELD, WITHHELD)
    assert one_exit.households_housed == WITHHELD  # tied to them
    three_left = single(report(housing(10, exits=7), scope=AGENT))
    assert (three_left.exits, three_left.ongoing_at_end) == (WITHHELD, WITHHELD)
    both = single(across([housing(20, exits=10), housing(20, exits=1)]))
    # Only the first agreement's cell is added up: 10 and 10, of 20.
    assert (both.exits, both.ongoing_at_end) == (Figure(10), Figure(10))
    assert both.households_housed == Figure(20)


def test_parts_left_out_add_up_to_the_threshold_at_least() -> None:
    """Found by review: A housed 10 in bedrooms, 2 in a workshop and 2 in a hall
    (14 on its page), B 10: the total 24 less sleeping 20 gave A's 4 elsewhere."""
    bedroom = SpaceFactory.create(capacity=10)
    workshop = SpaceFactory.create(workshop=True, building=bedroom.building)
    hall = SpaceFactory.create(
        capacity=10, use=SpaceUse.PUBLIC, building=bedroom.building
    )
    a = in_force(bedroom, workshop, hall)
    for space, households in ((bedroom, 10), (workshop, 2), (hall, 2)):
        for _ in range(households):
            stay(a, space)
    b = housing(10)
    assert single(across([a, b])).households_housed == Figure(24)
    uses = {
        row.group: row.households_housed
        for row in across([a, b], group_by=GroupBy.USE).rows
    }
    # A's 2 and 2 add up to 4: its 10 in bedrooms go with them.
    assert uses[SpaceUse.SLEEPING] == Figure(10)


def test_a_part_left_out_for_its_stays_under_way_takes_another_with_it() -> None:
    """A's 10 households in bedrooms all left in March, its 2 in a workshop are
    still there: its page (12 households, exits withheld) less its bedrooms' 10
    exits in the breakdown by use would give the 2 still there."""
    bedroom = SpaceFactory.create(capacity=10)
    workshop = SpaceFactory.create(workshop=True, building=bedroom.building)
    a = in_force(bedroom, workshop)
    for _ in range(10):
        stay(
            a,
            bedroom,
            period=DateRange(date(2026, 3, 1), date(2026, 3, 20)),
            status=StayStatus.EXITED,
            exit_destination=ExitDestination.UNKNOWN,
        )
    for _ in range(2):
        stay(a, workshop)
    b = housing(10)
    page = single(report(a, scope=AGENT))
    assert page.exits == WITHHELD
    assert page.households_housed == WITHHELD  # 12, tied to the 2 still there
    uses = {row.group: row for row in across([a, b], group_by=GroupBy.USE).rows}
    # B's bedrooms only: nobody left them (0 exits, withheld; its 10 still there
    # are B's own page's, shown since a zero exit names nobody: review 4).
    assert uses[SpaceUse.SLEEPING].exits == WITHHELD
    assert uses[SpaceUse.SLEEPING].ongoing_at_end == Figure(10)


def test_a_zero_neither_stands_in_for_a_withheld_cell_nor_needs_one() -> None:
    """Found by review: in one agreement's breakdown by category, 10 sheltered,
    3 households and a hosted organisation (0 people) showed 10 with two cells
    withheld, so 13 − 10 = 3; and an empty hall withheld 27 in bedrooms."""
    bedroom = SpaceFactory.create(capacity=20)
    a = in_force(bedroom)
    for _ in range(10):
        stay(a, bedroom)
    for _ in range(3):
        stay(
            a,
            bedroom,
            occupant=OccupantFactory.create(
                operator=a.operator, category=OccupantCategory.HOUSEHOLD
            ),
        )
    stay(
        a,
        bedroom,
        occupant=OccupantFactory.create(
            operator=a.operator,
            kind=OccupantKind.ORGANIZATION,
            category=OccupantCategory.HOSTED_ORGANIZATION,
            hosted_organization=a.operator,
        ),
    )
    categories = {
        row.group: row.households_housed
        for row in report(a, group_by=GroupBy.CATEGORY, scope=AGENT).rows
    }
    assert categories[OccupantCategory.HOUSEHOLD] == WITHHELD
    assert categories[OccupantCategory.SHELTERED] == WITHHELD  # with the 3

    sites = [housing(n) for n in (6, 12, 9)]
    sites.append(in_force(SpaceFactory.create(capacity=10, use=SpaceUse.PUBLIC)))
    uses = {
        row.group: row.households_housed
        for row in across(sites, group_by=GroupBy.USE).rows
    }
    assert uses == {SpaceUse.SLEEPING: Figure(27), SpaceUse.PUBLIC: WITHHELD}


def residents(
    agreement: Agreement, *periods: tuple[date, date | None], count: int
) -> None:
    """``count`` people alone in the agreement's first space over each period."""
    space = Space.objects.filter(agreement_spaces__agreement=agreement).first()
    assert space is not None
    for entry, left in periods:
        for _ in range(count):
            stay(
                agreement,
                space,
                period=DateRange(entry, left),
                status=StayStatus.EXITED if left else StayStatus.ACTIVE,
                exit_destination=ExitDestination.UNKNOWN if left else "",
            )


def test_a_months_first_night_ties_its_counts_to_the_month_before() -> None:
    """Found by review: A housed 20 from January (5 left on 20 February, 5 on 20
    March) and took in 3 on 5 March; B 10 from 10 March. By month, March's
    households less February's last night less March's entries (28 − 15 − 10)
    gave A's 3 entries, withheld on its page."""
    a = in_force(SpaceFactory.create(capacity=30))
    residents(a, (date(2026, 1, 15), date(2026, 2, 20)), count=5)
    residents(a, (date(2026, 1, 15), date(2026, 3, 20)), count=5)
    residents(a, (date(2026, 1, 15), None), count=10)
    residents(a, (date(2026, 3, 5), None), count=3)
    b = in_force(SpaceFactory.create(capacity=10))
    residents(b, (date(2026, 3, 10), None), count=10)
    february = date(2026, 2, 1)
    assert single(report(a, start=february, end=MARCH[1], scope=AGENT)).entries == (
        WITHHELD
    )
    months = {
        row.start: row
        for row in across([a, b], group_by=GroupBy.MONTH, start=february).rows
    }
    # A's March ties its 3 entries to all its counts, and its February goes with it
    # (a lone month left out): B alone.
    assert months[february].households_housed == WITHHELD  # nobody: 0
    assert months[MARCH[0]].households_housed == Figure(10)
    assert months[MARCH[0]].entries == Figure(10)
    # The same over the whole period and its first month.
    total = single(across([a, b], start=february))
    assert (total.households_housed, total.entries) == (Figure(10), Figure(10))


def test_one_agreement_is_its_own_whole_and_an_operator_sees_every_one() -> None:
    two = housing(2)
    alone = report(two, scope=AGENT)
    assert alone.agreements_left_out == 0
    assert alone.note == ""
    row = single(alone)
    assert row.households_housed == WITHHELD
    assert row.place_nights_available == 10 * 31  # its places are not people

    seven = housing(7)
    two.operator = seven.operator
    two.save(update_fields=["operator"])
    exact = across([two, seven], scope=own(seven))
    assert exact.exact
    assert exact.agreements_left_out == 0
    assert single(exact).households_housed == Figure(9)


def test_the_api_says_how_many_agreements_its_figures_leave_out(
    make_member: Callable[..., User],
) -> None:
    for households in (7, 8, 2):
        housing(households)
    client = Client()
    client.force_login(make_member(OrganizationKind.STATE_SERVICE))  # national
    response = client.get(
        "/api/v1/indicators/",
        {"period_start": "2026-03-01", "period_end": "2026-04-01"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["rows"][0]["households_housed"] == {"value": 15, "suppressed": False}
    assert body["agreements_left_out"] == 1
    assert "1 agreement with fewer than 5 households" in body["note"]


def test_a_household_that_grows_keeps_the_size_it_had_in_past_periods() -> None:
    """The persons housed were counted with the household's size of today: a
    family of two that became four in May had been four people in March too."""
    space = SpaceFactory.create(capacity=6)
    agreement = AgreementFactory.create(
        building=space.building,
        status=AgreementStatus.ACTIVE,
        period=DateRange(date(2026, 1, 1), date(2027, 1, 1)),
        sleeping_allowed=True,
        spaces=[space],
    )
    SafetyInspectionFactory.create(building=space.building, date=date(2025, 12, 1))
    family = OccupantFactory.create(
        operator=agreement.operator,
        kind=OccupantKind.HOUSEHOLD,
        category="household",
        household_size=2,
    )
    stay_start(
        occupant=family,
        space=space,
        agreement=agreement,
        entry=date(2026, 3, 1),
        structure_type="insertion",
        today=date(2026, 3, 1),
    )
    occupant_update(occupant=family, household_size=4, today=date(2026, 5, 1))

    march = single(report(agreement))
    assert (march.persons_housed, march.households_housed) == (Figure(2), Figure(1))
    assert march.nights_provided == Figure(31)
    assert (march.entries, march.exits) == (Figure(1), Figure(0))
    may = single(report(agreement, start=date(2026, 5, 1), end=date(2026, 6, 1)))
    assert (may.persons_housed, may.households_housed) == (Figure(4), Figure(1))
    assert may.nights_provided == Figure(31)
    assert (may.entries, may.exits) == (Figure(0), Figure(0))
    # Across the change: one household, all four housed, one stay going on.
    spring = single(report(agreement, start=date(2026, 3, 1), end=date(2026, 6, 1)))
    assert (spring.persons_housed, spring.households_housed) == (
        Figure(4),
        Figure(1),
    )
    assert spring.nights_provided == Figure(92)
    assert (spring.entries, spring.exits) == (Figure(1), Figure(0))
