"""Occupancy indicators of reference/domain.md §E (1–7), computed in PostgreSQL.

Conventions, published with every figure (``METHODOLOGY``):

- The period is ``[start, end)`` and nights are counted on dates: a stay from 1 to
  3 March gives 2 nights. A stay is present on night ``d`` when ``d ∈ [entry, exit)``.
- Place-nights available ``A = Σ_d cap(d)``: the capacity of every space an agreement
  in force covers on night ``d``, except nights when that agreement is suspended,
  read from its status history (AgreementStatusChange; a change dated ``d`` in the
  server's time zone governs night ``d`` onwards). Capacity is today's: the schema
  keeps no history of it.
- Nights provided ``N = Σ_s |[entry, exit) ∩ [start, end)|``; occupancy rate ``N / A``
  (above 1 flags a data error).
- People housed: households = distinct occupants (a person alone is a one-person
  household) present at least one night; persons = the sum of their household sizes,
  each the size the household had during its stays in the period (its largest, when
  it changed within the period: every one of its members was housed). A change of
  size ends the running stay and goes on in a new one, so past periods keep theirs.
  Hosted organizations are not people: they count in nights, never in people.
- A move (an exit and an entry of the same occupant on the same day, ``stay_move``)
  continues one stay: it is neither an exit nor an entry, and lengths of stay run
  from the first entry to the final exit.
- Entries: stays starting in the period. Exits: recorded exits dated in the period;
  mean and median length over them; stays still present on the last night are
  reported apart (count and mean length so far). Exits to housing: destinations
  social, private or adapted housing, as a share of exits with a known destination;
  the share of unknown destinations is given beside it.
- Disclosure control (CNIL; domain.md §F.5): outside the operator's own scope,
  every count of people under the threshold (5) is withheld, with the figures that
  would give it away (nights, occupancy rate and lengths of that cell). Persons go
  with households: the household is the identifying unit, so one household of six
  is not published as 6 people. Counts tied by arithmetic go together: a cell's
  households (H), entries (E), exits (X) and stays under way on the last night
  (O) are shown only when each of them, and each group they give by
  subtraction with the stays under way on the night before the period (B, the
  last night of the month before, which a reader has), is 0 or reaches the
  threshold: |H − E| and |X + O − E| (those there on the first night), |H − O|
  (the households that left), |X + O − H| (returns and first-day exits less the
  stays past their planned end with no exit recorded), |B + E − X − O| (those
  overdue stays, and in a group the movers to another less those from one),
  |B + E − H| (those who left on the first day) and |X + H − B − E| (the other
  exits). A zero names nobody: withheld for display, it takes no other figure
  with it. The exits' destinations (to
  housing, to another known destination, unknown) are three counts of people:
  the split is shown only when each of them reaches the threshold (a zero too:
  it would tell where every one of the others went).
- A breakdown, and the parts of an agreement added up over several: the whole a
  reader has (one agreement's page, over the period by month) less any of the
  parts shown (each, all, and every combination between when there are up to
  8), and those parts added up, must give each of those tied counts 0 or at
  least the threshold,
  else one more part is withheld (the smallest whose withholding is enough, else
  the smallest). The whole less the parts is checked, not the parts withheld
  added up, because a household moving between groups of one agreement (two
  uses) counts in each group and once on the page, and one there in two months
  in each month: the rows less the total would give the movers, or those who
  left and came back in a later month. A zero withheld as a small count names nobody and
  needs no other part withheld with it.
- Over several agreements, every figure is a sum of cells (one agreement, one
  bucket — the period or a month —, one group), each counted as that
  agreement's own page counts it (its stays alone: a move to another agreement
  is an exit there and an entry here, and a person housed under two agreements
  counts under each), and each family of counts (the households with the counts
  tied to them; the destinations, among the cells whose households are added
  up, checked against every cell of the agreement) adds up only the cells the
  rule above publishes. So no total, site row or breakdown, less the cells shown
  one by one, gives a withheld one away; such sums are not withheld again for
  their own tied counts (a small one of a sum names no group). Places add up
  every agreement. Periods that overlap (an agreement's page over February–March
  less its page over February) are not protected against each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import astuple, dataclass, field, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import partial
from itertools import combinations
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from config.errors import DomainError
from occupancy.models import (
    HOUSING_DESTINATIONS,
    Agreement,
    AgreementStatus,
    ExitDestination,
    OccupantKind,
    StayStatus,
)
from occupancy.rules import add_months, rules
from organizations.selectors import Scope

METHODOLOGY = __doc__ or ""

# An agreement puts places at disposal from activation on; earlier statuses cover
# spaces on paper only, later ones keep the nights they were in force.
IN_FORCE_STATUSES = (
    AgreementStatus.ACTIVE,
    AgreementStatus.SUSPENDED,
    AgreementStatus.ENDING,
    AgreementStatus.EXPIRED,
    AgreementStatus.REVOKED,
    AgreementStatus.TERMINATED,
    AgreementStatus.CLOSED,
)


class GroupBy(StrEnum):
    SITE = "site"  # the building
    USE = "use"  # of the space
    CATEGORY = "category"  # of the occupant
    MONTH = "month"


@dataclass(frozen=True)
class Figure:
    """A figure that may be withheld: ``value`` is None and ``suppressed`` True."""

    value: int | Decimal | None
    suppressed: bool = False


WITHHELD = Figure(None, suppressed=True)


@dataclass(frozen=True)
class IndicatorRow:
    # "" for the whole selection; else the building id, space use, occupant
    # category or first day of the month (ISO).
    group: str
    start: date
    end: date
    # Places are a property of spaces: None when grouped by occupant category.
    places_average: Decimal | None
    places_at_end: int | None
    place_nights_available: int | None
    nights_provided: Figure
    occupancy_rate: Figure
    persons_housed: Figure
    households_housed: Figure
    entries: Figure
    exits: Figure
    exits_to_housing: Figure
    exits_known_destination: Figure
    exits_to_housing_rate: Figure
    unknown_destination_share: Figure
    length_of_stay_mean_days: Figure
    length_of_stay_median_days: Figure
    ongoing_at_end: Figure
    ongoing_mean_days: Figure
    # Stays under way on the night before ``start``: never shown (the API, the
    # pages and the exports list their fields), only a tied count's term
    # (``_tied_counts``: the month before's stays under way, a reader's to get).
    ongoing_before: int = field(default=0, repr=False)


@dataclass(frozen=True)
class IndicatorReport:
    start: date
    end: date
    group_by: GroupBy | None
    exact: bool
    threshold: int
    rows: tuple[IndicatorRow, ...]
    methodology: str = field(default=METHODOLOGY, repr=False)
    # Agreements with households withheld on their own (in all or in a part: a
    # use, a category, a month), which the people, nights and occupancy rate of
    # the rows leave out there (0 when exact or for one agreement).
    agreements_left_out: int = 0

    @property
    def note(self) -> str:
        """What the rows leave out, in a sentence ("" when nothing)."""
        if not self.agreements_left_out:
            return ""
        return ngettext(
            "Each count adds up the agreements, or their parts, where it reaches "
            "%(threshold)s: %(count)s agreement with fewer than %(threshold)s "
            "households, in all or in a part, is left out of the people, nights "
            "and occupancy rate there.",
            "Each count adds up the agreements, or their parts, where it reaches "
            "%(threshold)s: %(count)s agreements with fewer than %(threshold)s "
            "households, in all or in a part, are left out of the people, nights "
            "and occupancy rate there.",
            self.agreements_left_out,
        ) % {"threshold": self.threshold, "count": self.agreements_left_out}


# SQL snippets. Only these constants and the GroupBy keys below reach the SQL text;
# every value travels as a parameter.
_BUCKETS_MONTH = """
    SELECT GREATEST(m::date, %(start)s::date) AS b0,
           LEAST((m + interval '1 month')::date, %(end)s::date) AS b1
    FROM generate_series(
        date_trunc('month', %(start)s::date::timestamp),
        (%(end)s::date - 1)::timestamp,
        interval '1 month'
    ) AS m
"""
_BUCKETS_WHOLE = "SELECT %(start)s::date AS b0, %(end)s::date AS b1"

Key = tuple[str, date, date]  # group, first night, end of the bucket
# The (agreement, first night, group) cells a measure may count, when it may not
# count them all.
Cells = tuple[tuple[int, date, str], ...]
_ALLOWED = (
    "({agreement}::text || '/' || b.b0::text || '/' || ({group})) "
    "= ANY(%(allowed)s::text[])"
)

_SPACE_KEYS: dict[GroupBy | None, str] = {
    None: "''",
    GroupBy.SITE: "sp.building_id::text",
    GroupBy.USE: "sp.use",
    GroupBy.MONTH: "b.b0::text",
}
_STAY_KEYS: dict[GroupBy | None, str] = {
    None: "''",
    GroupBy.SITE: "o.building_id::text",
    GroupBy.USE: "o.use",
    GroupBy.MONTH: "b.b0::text",
    GroupBy.CATEGORY: "o.category",
}

# Suspension intervals from the status history: each change governs until the next.
# Also read by finance/indicators.py (occupied months). ``{agreements}`` is an SQL
# condition on ``agreement_id``; the parameters are ``tz`` and ``suspended``.
SUSPENSIONS_SQL = """
changes AS (
    SELECT agreement_id, to_status,
           (changed_at AT TIME ZONE %(tz)s)::date AS since,
           lead((changed_at AT TIME ZONE %(tz)s)::date) OVER (
               PARTITION BY agreement_id ORDER BY changed_at, id
           ) AS until
    FROM occupancy_agreementstatuschange
    WHERE {agreements}
),
suspensions AS (
    SELECT agreement_id, daterange(since, until, '[)') AS nights
    FROM changes
    WHERE to_status = %(suspended)s AND (until IS NULL OR until > since)
)"""

_CAPACITY_SQL = """
WITH buckets AS ({buckets}), {suspensions},
covered AS (
    SELECT {key} AS key, b.b0, b.b1, sp.capacity, asp.agreement_id,
           asp.period * daterange(b.b0, b.b1) AS nights
    FROM buckets b
    JOIN occupancy_agreementspace asp ON asp.period && daterange(b.b0, b.b1)
    JOIN occupancy_agreement a
      ON a.id = asp.agreement_id
     AND a.id = ANY(%(agreements)s) AND a.status = ANY(%(in_force)s)
    JOIN occupancy_space sp ON sp.id = asp.space_id
    WHERE {allowed}
),
open_nights AS (
    SELECT c.key, c.b0, c.b1, c.capacity,
           upper(c.nights) - lower(c.nights) - COALESCE((
               SELECT SUM(upper(c.nights * s.nights) - lower(c.nights * s.nights))
               FROM suspensions s
               WHERE s.agreement_id = c.agreement_id AND s.nights && c.nights
           ), 0) AS nights,
           c.nights @> (c.b1 - 1) AND NOT EXISTS (
               SELECT 1 FROM suspensions s
               WHERE s.agreement_id = c.agreement_id AND s.nights @> (c.b1 - 1)
           ) AS open_at_end
    FROM covered c
)
SELECT key, b0, b1,
       SUM(capacity * nights)::bigint AS place_nights,
       SUM(CASE WHEN open_at_end THEN capacity ELSE 0 END)::bigint AS places_at_end
FROM open_nights
GROUP BY key, b0, b1
"""

# Stays of the selection cut into episodes: a stay whose entry is the exit of the
# occupant's previous stay (a move) continues that episode.
_SEGMENTS = """
segments AS (
    SELECT s.id, s.occupant_id, s.agreement_id, s.period, s.status, s.exit_destination,
           lower(s.period) AS entry, upper(s.period) AS exit,
           lag(upper(s.period)) OVER w AS previous_exit,
           lead(lower(s.period)) OVER w AS next_entry,
           sp.building_id, sp.use, o.category, o.kind, s.household_size
    FROM occupancy_stay s
    JOIN occupancy_space sp ON sp.id = s.space_id
    JOIN occupancy_occupant o ON o.id = s.occupant_id
    WHERE s.agreement_id = ANY(%(agreements)s)
    WINDOW w AS (PARTITION BY s.occupant_id{s_by} ORDER BY lower(s.period))
),
numbered AS (
    SELECT segments.*,
           SUM(CASE WHEN previous_exit IS DISTINCT FROM entry THEN 1 ELSE 0 END)
               OVER (PARTITION BY occupant_id{by} ORDER BY entry) AS episode
    FROM segments
),
episodes AS (
    SELECT numbered.*,
           MIN(entry) OVER (PARTITION BY occupant_id{by}, episode) AS episode_entry
    FROM numbered
)"""

_PRESENCE_SQL = """
WITH buckets AS ({buckets}), {segments},
present AS (
    SELECT {key} AS key, b.b0, b.b1, o.occupant_id, o.kind,
           MAX(o.household_size) AS household_size,
           SUM(upper(o.period * daterange(b.b0, b.b1))
               - lower(o.period * daterange(b.b0, b.b1))) AS nights,
           COUNT(*) FILTER (
               WHERE o.previous_exit IS DISTINCT FROM o.entry
                 AND o.entry >= b.b0 AND o.entry < b.b1
           ) AS entries
    FROM buckets b
    JOIN episodes o ON o.period && daterange(b.b0, b.b1)
    WHERE {allowed}
    GROUP BY 1, b.b0, b.b1, o.occupant_id{o_by}, o.kind
)
SELECT key, b0, b1,
       SUM(nights)::bigint AS nights,
       COALESCE(SUM(household_size) FILTER (WHERE kind <> %(organization)s), 0)
           ::bigint AS persons,
       COUNT(*) FILTER (WHERE kind <> %(organization)s) AS households,
       COALESCE(SUM(entries) FILTER (WHERE kind <> %(organization)s), 0)
           ::bigint AS entries
FROM present
GROUP BY key, b0, b1
"""

_EXITS_SQL = """
WITH buckets AS ({buckets}), {segments},
ended AS (
    SELECT {key} AS key, b.b0, b.b1, o.exit_destination,
           (o.exit - o.episode_entry) AS days
    FROM buckets b
    JOIN episodes o ON o.exit >= b.b0 AND o.exit < b.b1
    WHERE o.status = %(exited)s AND o.next_entry IS DISTINCT FROM o.exit
      AND o.kind <> %(organization)s AND {allowed}
),
ongoing AS (
    SELECT {key} AS key, b.b0, b.b1, (b.b1 - o.episode_entry) AS days
    FROM buckets b
    JOIN episodes o ON o.period @> (b.b1 - 1)
    WHERE o.kind <> %(organization)s AND {allowed}
),
before AS (
    SELECT {key} AS key, b.b0, b.b1
    FROM buckets b
    JOIN episodes o ON o.period @> (b.b0 - 1)
    WHERE o.kind <> %(organization)s AND {allowed}
)
SELECT key, b0, b1,
       COUNT(*) AS exits,
       COUNT(*) FILTER (WHERE exit_destination = ANY(%(housing)s)) AS to_housing,
       COUNT(*) FILTER (WHERE exit_destination <> %(unknown)s) AS known,
       AVG(days)::numeric AS mean_days,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY days)::numeric AS median_days,
       0 AS ongoing, NULL::numeric AS ongoing_days, 0 AS before
FROM ended GROUP BY key, b0, b1
UNION ALL
SELECT key, b0, b1, 0, 0, 0, NULL, NULL, COUNT(*), AVG(days)::numeric, 0
FROM ongoing GROUP BY key, b0, b1
UNION ALL
SELECT key, b0, b1, 0, 0, 0, NULL, NULL, 0, NULL, COUNT(*)
FROM before GROUP BY key, b0, b1
"""


def _fetch(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _months(start: date, end: date) -> list[tuple[date, date]]:
    """The month buckets of ``[start, end)``, as _BUCKETS_MONTH cuts them."""
    buckets = []
    first = start.replace(day=1)
    while first < end:
        following = add_months(first, 1)
        buckets.append((max(first, start), min(following, end)))
        first = following
    return buckets


def _ratio(numerator: int | Decimal, denominator: int | Decimal) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"))


def _days(value: Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal("0.1"))


def sees_exact_figures(*, for_scope: Scope, operator_ids: Iterable[int]) -> bool:
    """Only an operator looking at its own residents sees counts under the threshold;
    State agents and funders get aggregates with small cells withheld (domain.md
    §F.4–5: data sent to State services must not allow indirect identification)."""
    return set(operator_ids) <= for_scope.operator_ids


def people(value: int, *, exact: bool, threshold: int | None = None) -> Figure:
    """A count of people (or households), withheld under the threshold unless
    ``exact``. Zero is withheld too: it is under the threshold, and withholding it
    costs nothing while keeping the rule simple to audit. Only for display: a
    zero names nobody, so it needs no other cell withheld with it
    (``_exposes``)."""
    limit = rules().small_cell_threshold if threshold is None else threshold
    if exact or value >= limit:
        return Figure(value)
    return WITHHELD


# Each count of people, with the figures derived from it that go when it goes.
_DESTINATIONS = (
    "exits_known_destination",
    "exits_to_housing_rate",
    "unknown_destination_share",
)
_DESTINATIONS_ALL = ("exits_to_housing", *_DESTINATIONS)
_EXITS_AND_STAYS = (
    "exits",
    "length_of_stay_mean_days",
    "length_of_stay_median_days",
    "ongoing_at_end",
    "ongoing_mean_days",
)
# The counts of people tied by arithmetic (``_tied_counts``: households, entries,
# exits, stays under way, those there on the first night, the returns and stays
# past their planned end; a month's first night is the last of the one before),
# with the figures each carries, and the destinations, which split the exits.
_PEOPLE = (
    "households_housed",
    "persons_housed",
    "nights_provided",
    "occupancy_rate",
    "entries",
    *_EXITS_AND_STAYS,
    *_DESTINATIONS_ALL,
)
# The two families of counts of people, each published or withheld whole: the
# households with the counts tied to them by arithmetic (``MAIN``), and the exits'
# destinations (``DESTINATIONS``), which split the exits.
MAIN = "households_housed"
DESTINATIONS = "exits_to_housing"


@dataclass(frozen=True)
class _Counts:
    """The counts of people of a row (or of several added up, or one less
    another): what the tied counts are computed from."""

    households: int = 0
    entries: int = 0
    exits: int = 0
    ongoing: int = 0
    known: int = 0
    to_housing: int = 0
    before: int = 0

    @classmethod
    def of(cls, row: IndicatorRow) -> _Counts:
        return cls(
            households=_count(row.households_housed),
            entries=_count(row.entries),
            exits=_count(row.exits),
            ongoing=_count(row.ongoing_at_end),
            known=_count(row.exits_known_destination),
            to_housing=_count(row.exits_to_housing),
            before=row.ongoing_before,
        )

    def __add__(self, other: _Counts) -> _Counts:
        return _Counts(
            *(a + b for a, b in zip(astuple(self), astuple(other), strict=True))
        )

    def __sub__(self, other: _Counts) -> _Counts:
        return _Counts(
            *(a - b for a, b in zip(astuple(self), astuple(other), strict=True))
        )


def _tied_counts(counts: _Counts, family: str) -> tuple[int, ...]:
    """The counts of people a reader gets from the figures of ``family``, shown
    or recovered by subtraction: the one rule of ``_withhold``,
    ``_published_parts`` and ``_complementary``.

    ``MAIN``: households, entries, exits, stays under way on the last night,
    and the groups each pair of them gives by subtraction, each written both
    ways, since returns (people who left and came back within the period),
    exits on the period's first day (no night in it) and stays past their
    planned end with no exit recorded make the two spellings differ:
    |households − entries| and |exits + stays under way − entries| (those there
    on the first night), |households − stays under way| (the households that
    left during the period) and |exits + stays under way − households| (the
    returns and first-day exits, less the overdue stays: 0 when there are none).
    Review: each spelling alone let the other give a small group away. And
    |stays under way the night before + entries − exits − stays under way| (the
    stays past their planned end with no exit recorded, plus, in a group, those
    who moved to another group less those who came from one): the night before
    is the last night of the month before, whose page a reader has (review 3);
    with it, |night before + entries − households| (those who left on the
    period's first day) and |exits + households − night before − entries| (the
    exits after it), which the five counts fix too (review 4).
    ``DESTINATIONS``: to housing, to another known destination, unknown."""
    if family == DESTINATIONS:
        return (
            counts.to_housing,
            counts.known - counts.to_housing,
            counts.exits - counts.known,
        )
    return (
        counts.households,
        counts.entries,
        counts.exits,
        counts.ongoing,
        abs(counts.households - counts.entries),
        abs(counts.exits + counts.ongoing - counts.entries),
        abs(counts.households - counts.ongoing),
        abs(counts.exits + counts.ongoing - counts.households),
        abs(counts.before + counts.entries - counts.exits - counts.ongoing),
        abs(counts.before + counts.entries - counts.households),
        abs(counts.exits + counts.households - counts.before - counts.entries),
    )


def _exposes(counts: _Counts, family: str, *, threshold: int) -> bool:
    """Whether ``counts`` (a row, or what subtraction leaves of withheld rows)
    names fewer than ``threshold`` people in a dimension of ``family``: one of
    its tied counts from 1 to threshold − 1 (a zero names nobody); for the
    destinations, when there are exits, one of the three under the threshold,
    zero included (it would tell where every one of the others went)."""
    tied = _tied_counts(counts, family)
    if family == DESTINATIONS:
        return counts.exits != 0 and any(abs(value) < threshold for value in tied)
    return any(0 < abs(value) < threshold for value in tied)


def _published_parts(
    parts: Sequence[_Counts],
    *,
    whole: _Counts | None,
    family: str,
    threshold: int,
    among: Iterable[int] | None = None,
) -> list[int]:
    """The indices of the ``parts`` of a whole (one agreement's groups in a
    bucket, or its months; a breakdown's rows) whose ``family`` may be shown.

    A part is shown when none of its tied counts exposes anyone (and, for the
    destinations, when it is ``among`` those whose households are shown). Then,
    while what a reader gets by subtraction or addition exposes someone, one
    more part is withheld: the smallest whose withholding ends the exposure,
    else the smallest. The reader gets the parts shown added up (the rows of a
    breakdown) and the ``whole`` less them (an agreement's page, over the
    period by month; None: the parts added up, a report's total). The whole is
    subtracted from even when it is withheld itself, as before: other figures
    (another grouping, another period) may come close to it. The whole less the
    parts shown is checked, not the parts withheld added up: a household moving
    between groups, or there in two months, counts in each part it was in and
    once in the whole, so the rows less the total would give the movers (by
    month, those who left and came back in a later month). The parts shown
    added up are checked too: the tied counts that may be negative (households
    − entries, exits + stays − households) can add up to a small one, the
    whole's own when it is withheld."""
    total = whole if whole is not None else sum(parts, _Counts())
    allowed = set(range(len(parts)) if among is None else among)
    kept = [
        index
        for index, part in enumerate(parts)
        if index in allowed and not _exposes(part, family, threshold=threshold)
    ]

    def exposed(indices: list[int]) -> bool:
        for subset in _subsets(indices):
            shown = sum((parts[index] for index in subset), _Counts())
            if _exposes(shown, family, threshold=threshold) or _exposes(
                total - shown, family, threshold=threshold
            ):
                return True
        return False

    def size(index: int) -> tuple[int, int]:
        return (sum(abs(v) for v in _tied_counts(parts[index], family)), index)

    while exposed(kept):
        candidates = [i for i in kept if any(_tied_counts(parts[i], family))]
        if not candidates:
            break
        ending = [i for i in candidates if not exposed([j for j in kept if j != i])]
        kept.remove(min(ending or candidates, key=size))
    return kept


# Up to this many parts shown, every combination of them is checked; beyond
# (a breakdown by month over a year), each part, all but each one, and all.
_EVERY_SUBSET_UP_TO = 8


def _subsets(indices: list[int]) -> Iterator[tuple[int, ...]]:
    """The sets of parts shown a reader adds up, or takes from the whole: each
    one and all of them, and between, every combination when there are few
    (review 5: the page less one of its months gave the returns of the other;
    less one of its uses, the movers between uses)."""
    count = len(indices)
    if count <= _EVERY_SUBSET_UP_TO:
        for size in range(1, count + 1):
            yield from combinations(indices, size)
        return
    for index in indices:
        yield (index,)
        yield tuple(other for other in indices if other != index)
    yield tuple(indices)


def _complementary(
    rows: list[IndicatorRow],
    raw: list[IndicatorRow],
    *,
    whole: IndicatorRow | None,
    threshold: int,
) -> list[IndicatorRow]:
    """Withhold more rows of a breakdown so that the total (``whole``, exact: one
    agreement's page; None: the sum of the rows) less the rows shown exposes
    nobody (``_published_parts``, each family apart). ``raw`` holds the same
    rows with every figure. A zero withheld by ``people`` tells nothing: only
    rows whose tied counts expose someone need others withheld with them."""
    if len(rows) < 2:
        return rows
    parts = [_Counts.of(row) for row in raw]
    total = _Counts.of(whole) if whole is not None else None
    main = _published_parts(parts, whole=total, family=MAIN, threshold=threshold)
    split = _published_parts(
        parts, whole=total, family=DESTINATIONS, threshold=threshold, among=main
    )
    for index in range(len(rows)):
        if index not in main:
            withheld: tuple[str, ...] = _PEOPLE
        elif index not in split:
            withheld = _DESTINATIONS_ALL
        else:
            continue
        fields: dict[str, Any] = dict.fromkeys(withheld, WITHHELD)
        rows[index] = replace(rows[index], **fields)
    return rows


def _withhold(
    row: IndicatorRow, *, threshold: int, summed: bool = False
) -> IndicatorRow:
    """``row`` (every figure) as shown outside the operator's own sites: each
    count of people under ``threshold`` withheld with the figures that would give
    it away.

    ``summed``: the row adds up cells each published on its own
    (``_from_published_cells``, over several agreements): its tied counts are
    sums of theirs, which the cells' own pages already give, and a small one
    among them (an agreement's 5 returns with another's 7 overdue stays: −2)
    names no group of people; withholding the sum for it hid figures every page
    shows (review 2). Its counts, sums of counts each 0 or at least the
    threshold, are withheld only when 0, as everywhere."""

    def small(value: int) -> bool:
        return people(value, exact=False, threshold=threshold).suppressed

    counts = _Counts.of(row)
    # Each count is withheld by the rule of ``people`` (0 too), with the figures
    # it carries; and all of them go when one of the tied counts (``tied_counts``:
    # those there on the first night, the returns and overdue stays too) is a
    # count of 1 to threshold − 1: the others would give it.
    withheld: list[str] = []
    if small(counts.households):
        withheld += ["households_housed", "persons_housed", "nights_provided"]
        withheld.append("occupancy_rate")
    if small(counts.entries):
        withheld.append("entries")
    # Exits and stays under way give each other with the households: both go
    # when one is 1 to threshold − 1; a zero, withheld on its own, names nobody
    # and takes only its own figures with it (review 4: no exit withheld 20
    # stays under way).
    if any(0 < value < threshold for value in (counts.exits, counts.ongoing)):
        withheld += [*_EXITS_AND_STAYS, *_DESTINATIONS_ALL]
    else:
        if small(counts.exits):
            withheld += [
                "exits",
                "length_of_stay_mean_days",
                "length_of_stay_median_days",
                *_DESTINATIONS_ALL,
            ]
        if small(counts.ongoing):
            withheld += ["ongoing_at_end", "ongoing_mean_days"]
    if not summed and _exposes(counts, MAIN, threshold=threshold):
        withheld += list(_PEOPLE)
    # The destinations split the exits into three counts of people — to housing,
    # to another known destination, unknown — any two of which, with the exits,
    # give the third: all shown, or none when one is under the threshold.
    if any(small(cell) for cell in _tied_counts(counts, DESTINATIONS)):
        withheld += list(_DESTINATIONS_ALL)
    fields: dict[str, Any] = dict.fromkeys(withheld, WITHHELD)
    return replace(row, **fields)


def indicators_get(
    *,
    agreements: QuerySet[Agreement],
    start: date,
    end: date,
    for_scope: Scope,
    group_by: GroupBy | None = None,
) -> IndicatorReport:
    """Indicators 1–7 over the stays and spaces of ``agreements``, on ``[start, end)``.

    ``agreements`` comes already scoped to the caller (the agreements selector);
    ``for_scope`` decides whether small cells are withheld. When they are and the
    selection holds several agreements, every figure is a sum of published cells
    (``_from_published_cells``); ``agreements_left_out`` counts the agreements
    with a part left out of the households.
    """
    if end <= start:
        raise DomainError(_("The period must end after it starts."), field="end")
    threshold = rules().small_cell_threshold
    selection = list(agreements.values_list("pk", "operator_id"))
    agreement_ids = [pk for pk, _ in selection]
    exact = sees_exact_figures(
        for_scope=for_scope, operator_ids={operator for _, operator in selection}
    )
    if exact or len(agreement_ids) < 2:
        # An operator's own figures (a person housed on two of its sites counted
        # once), or one agreement: its own whole, as its page shows it.
        rows = _measure(
            agreement_ids,
            start=start,
            end=end,
            group_by=group_by,
        )
        left_out = 0
    else:
        rows, left_out = _from_published_cells(
            agreement_ids, start=start, end=end, group_by=group_by, threshold=threshold
        )
    raw = [rows[key] for key in sorted(rows, key=lambda k: (k[1], k[0]))]
    ordered = raw
    if not exact:
        summed = len(agreement_ids) >= 2
        ordered = [_withhold(row, threshold=threshold, summed=summed) for row in raw]
        # Over several agreements, a breakdown's rows add up cells each checked
        # against its own agreement's page (``_from_published_cells``): checked
        # again as rows, a small tied count of a sum (5 first-day exits of one
        # agreement, 7 overdue stays of another: −2) withheld rows every page
        # shows (review 3).
        if group_by is not None and not summed:
            ordered = _complementary(
                ordered,
                raw,
                whole=_page(agreement_ids, raw, start=start, end=end, by=group_by),
                threshold=threshold,
            )
    return IndicatorReport(
        start=start,
        end=end,
        group_by=group_by,
        exact=exact,
        threshold=threshold,
        rows=tuple(ordered),
        agreements_left_out=left_out,
    )


def _page(
    agreement_ids: list[int],
    raw: list[IndicatorRow],
    *,
    start: date,
    end: date,
    by: GroupBy,
) -> IndicatorRow | None:
    """The whole one agreement's breakdown is checked against
    (``_complementary``): its page (over the period), exact, when two rows or
    more count people (a household moving between groups, or there in two
    months, counts in each, and once on the page); else None: the sum of the
    rows. Breakdowns over several agreements are not checked again as rows
    (``indicators_get``)."""
    if len(agreement_ids) != 1:
        return None
    if sum(1 for row in raw if any(astuple(_Counts.of(row)))) < 2:
        return None
    (page,) = _measure(
        agreement_ids, start=start, end=end, group_by=None, with_capacity=False
    ).values()
    return page


# The figures each count of people carries along: a total of that count adds up the
# agreements where it is published, and these figures come with it.
_FAMILIES: dict[str, tuple[str, ...]] = {
    # Counts of people tied by arithmetic (``_tied_counts``): published together.
    "households_housed": (
        "persons_housed",
        "nights_provided",
        "occupancy_rate",
        "entries",
        *_EXITS_AND_STAYS,
        "ongoing_before",
    ),
    "exits_to_housing": _DESTINATIONS_ALL,
}


def _from_published_cells(
    agreement_ids: list[int],
    *,
    start: date,
    end: date,
    group_by: GroupBy | None,
    threshold: int,
) -> tuple[dict[Key, IndicatorRow], int]:
    """The rows of ``group_by`` for a caller who gets small cells withheld, over
    several agreements: every count of people is the sum of the cells (one
    agreement, one bucket — the period or a month —, one group) where it is
    published, each cell counted as that agreement's own page counts it (its
    stays alone: a move to another agreement is an exit there and an entry
    here; a person housed under two agreements counts under each). So no total,
    site row or breakdown, less the cells shown one by one (an agreement's page,
    another grouping), gives a withheld one away (domain.md §F.5). Within an
    agreement and bucket, the parts published are those of ``_published_parts``
    against the agreement's page (by month: its page over the period), the
    households first, then the destinations among the parts whose households
    are published. Places are not people: they add up every agreement. Also
    returns how many agreements have a part left out of the households."""
    monthly = group_by is GroupBy.MONTH
    measure = partial(
        _measure,
        agreement_ids,
        start=start,
        end=end,
        monthly=monthly,
        per_agreement=True,
    )
    cells = measure(group_by=group_by, cells=True)
    # An agreement's parts: its groups in each bucket, or, by month, its months
    # (its page over the period shows their whole).
    parts: dict[tuple[str, date | None], list[tuple[date, str, _Counts]]] = {}
    for (name, b0, _b1), row in cells.items():
        agreement, _bar, group = name.partition("|")
        whole = (agreement, None if monthly else b0)
        parts.setdefault(whole, []).append((b0, group, _Counts.of(row)))
    wholes = _pages(parts, start=start, end=end, group_by=group_by)
    allowed: dict[str, list[tuple[int, date, str]]] = {MAIN: [], DESTINATIONS: []}
    left_out: set[str] = set()
    for whole, found in parts.items():
        counts = [part[2] for part in found]
        page = wholes.get(whole)
        main = _published_parts(counts, whole=page, family=MAIN, threshold=threshold)
        # The destinations split the exits: shown where the exits are, and
        # checked against every part, those left out for their households too.
        split = _published_parts(
            counts, whole=page, family=DESTINATIONS, threshold=threshold, among=main
        )
        if len(main) < len(found):
            left_out.add(whole[0])
        for family, kept in ((MAIN, main), (DESTINATIONS, split)):
            allowed[family] += [
                (int(whole[0]), found[index][0], found[index][1]) for index in kept
            ]
    by_family = {}
    # Counts often publish the same cells: one measure each distinct set.
    measured: dict[Cells, dict[Key, IndicatorRow]] = {}
    for family in _FAMILIES:
        cells_kept = tuple(sorted(allowed[family]))
        if cells_kept not in measured:
            measured[cells_kept] = measure(group_by=group_by, allowed=cells_kept)
        by_family[family] = measured[cells_kept]
    every = measure(group_by=group_by)
    zero = partial(_zero, with_capacity=group_by is not GroupBy.CATEGORY)
    return _assemble(every, by_family, zero=zero), len(left_out)


def _pages(
    parts: dict[tuple[str, date | None], list[tuple[date, str, _Counts]]],
    *,
    start: date,
    end: date,
    group_by: GroupBy | None,
) -> dict[tuple[str, date | None], _Counts]:
    """The counts of each agreement's page (its whole: over the bucket, or by
    month over the period), for the agreements with two parts or more that
    count people: a household moving between groups, or there in two months,
    counts in each, so their sum is not the page. One measure (no places) over
    those agreements only: none when grouped by site with one building an
    agreement, as usual."""
    several = sorted(
        {
            int(whole[0])
            for whole, found in parts.items()
            if sum(1 for part in found if any(astuple(part[2]))) > 1
        }
    )
    if group_by is None or not several:
        return {}
    pages = _measure(
        several,
        start=start,
        end=end,
        group_by=None,
        monthly=False,
        cells=True,
        per_agreement=True,
        with_capacity=False,
    )
    monthly = group_by is GroupBy.MONTH
    return {
        (name.partition("|")[0], None if monthly else b0): _Counts.of(row)
        for (name, b0, _b1), row in pages.items()
    }


def _count(figure: Figure) -> int:
    return int(figure.value or 0)


def _assemble(
    every: dict[Key, IndicatorRow],
    by_family: dict[str, dict[Key, IndicatorRow]],
    *,
    zero: Callable[[Key], IndicatorRow],
) -> dict[Key, IndicatorRow]:
    """The rows of ``every`` agreement (their places), each count with its figures
    taken from that count's own measure (over the agreements where it is
    published); a key absent from a measure has zeros there."""
    keys = set(every).union(*by_family.values())
    rows = {}
    for key in keys:
        row = every.get(key) or zero(key)
        for family, figures in _FAMILIES.items():
            source = by_family[family].get(key) or zero(key)
            row = replace(
                row, **{name: getattr(source, name) for name in (family, *figures)}
            )
        rows[key] = row
    return rows


def _keyed(agreement: str, group: str, *, cells: bool) -> str:
    """The SQL key of a row: the group, or the agreement and the group."""
    return f"({agreement}::text || '|' || ({group}))" if cells else group


def _allowing(agreement: str, group: str, allowed: Cells | None) -> str:
    """The SQL condition keeping the ``allowed`` cells only (every cell: None)."""
    if allowed is None:
        return "TRUE"
    return _ALLOWED.format(agreement=agreement, group=group)


def _zero(key: Key, *, with_capacity: bool) -> IndicatorRow:
    return _row(
        key=key,
        capacity=(0, 0) if with_capacity else None,
        presence=(0, 0, 0, 0),
        ended=[0, 0, 0, None, None, 0, None, 0],
    )


def _measure(
    agreement_ids: list[int],
    *,
    start: date,
    end: date,
    group_by: GroupBy | None,
    monthly: bool | None = None,
    cells: bool = False,
    per_agreement: bool = False,
    allowed: Cells | None = None,
    with_capacity: bool | None = None,
) -> dict[Key, IndicatorRow]:
    """The rows of one grouping over ``agreement_ids`` by key, every figure
    exact (the caller withholds: ``_withhold``, ``_complementary``).

    ``monthly`` buckets by month (default: when grouped by month); ``cells``
    keys each row ``"<agreement>|<group>"``; ``per_agreement`` follows each
    person's stays within each agreement apart, as one agreement's page does (a
    move to another agreement is an exit and an entry, a household under two
    agreements counts under each); ``allowed`` keeps those cells only;
    ``with_capacity`` False skips the places (default: unless by category)."""
    if monthly is None:
        monthly = group_by is GroupBy.MONTH
    buckets = _BUCKETS_MONTH if monthly else _BUCKETS_WHOLE
    params: dict[str, Any] = {
        "allowed": [
            f"{pk}/{first.isoformat()}/{group}" for pk, first, group in allowed or ()
        ],
        "start": start,
        "end": end,
        "agreements": agreement_ids,
        "tz": settings.TIME_ZONE,
        "suspended": AgreementStatus.SUSPENDED,
        "in_force": list(IN_FORCE_STATUSES),
        "organization": OccupantKind.ORGANIZATION,
        "exited": StayStatus.EXITED,
        "housing": sorted(HOUSING_DESTINATIONS),
        "unknown": ExitDestination.UNKNOWN,
    }
    if with_capacity is None:
        with_capacity = group_by is not GroupBy.CATEGORY
    capacity: dict[Key, tuple[int, int]] = {}
    if with_capacity:
        sql = _CAPACITY_SQL.format(
            buckets=buckets,
            key=_keyed("asp.agreement_id", _SPACE_KEYS[group_by], cells=cells),
            allowed=_allowing("asp.agreement_id", _SPACE_KEYS[group_by], allowed),
            suspensions=SUSPENSIONS_SQL.format(
                agreements="agreement_id = ANY(%(agreements)s)"
            ),
        )
        capacity = {(k, b0, b1): (a, e) for k, b0, b1, a, e in _fetch(sql, params)}
    stay_key = _keyed("o.agreement_id", _STAY_KEYS[group_by], cells=cells)
    stay_allowed = _allowing("o.agreement_id", _STAY_KEYS[group_by], allowed)
    apart = ", agreement_id" if per_agreement else ""
    segments = _SEGMENTS.format(by=apart, s_by=apart and ", s.agreement_id")
    presence_sql = _PRESENCE_SQL.format(
        buckets=buckets,
        segments=segments,
        key=stay_key,
        allowed=stay_allowed,
        o_by=apart and ", o.agreement_id",
    )
    presence = {(k, b0, b1): rest for k, b0, b1, *rest in _fetch(presence_sql, params)}
    exits_sql = _EXITS_SQL.format(
        buckets=buckets, segments=segments, key=stay_key, allowed=stay_allowed
    )
    ended: dict[Key, list[Any]] = {}
    for k, b0, b1, *values in _fetch(exits_sql, params):
        current = ended.setdefault((k, b0, b1), [0, 0, 0, None, None, 0, None, 0])
        if values[0]:
            current[:5] = values[:5]
        if values[5]:
            current[5:7] = values[5:7]
        if values[7]:
            current[7] = values[7]
    keys: set[Key] = set(capacity) | set(presence) | set(ended)
    # Every month (or the whole period) has its row, even without any stay.
    if cells:
        pass
    elif group_by is GroupBy.MONTH:
        keys |= {(b0.isoformat(), b0, b1) for b0, b1 in _months(start, end)}
    elif group_by is None:
        keys.add(("", start, end))
    return {
        key: _row(
            key=key,
            capacity=capacity.get(key, (0, 0)) if with_capacity else None,
            presence=presence.get(key, (0, 0, 0, 0)),
            ended=ended.get(key, [0, 0, 0, None, None, 0, None, 0]),
        )
        for key in keys
    }


def _row(
    *,
    key: tuple[str, date, date],
    capacity: tuple[int, int] | None,
    presence: Sequence[Any],
    ended: Sequence[Any],
) -> IndicatorRow:
    group, b0, b1 = key
    nights, persons, households, entries = presence
    exits, to_housing, known, mean_days, median_days, ongoing, ongoing_days, before = (
        ended
    )
    available, places_at_end = capacity or (0, 0)
    row = IndicatorRow(
        group=group,
        start=b0,
        end=b1,
        places_average=(
            _ratio(available, (b1 - b0).days) if capacity is not None else None
        ),
        places_at_end=places_at_end if capacity is not None else None,
        place_nights_available=available if capacity is not None else None,
        nights_provided=Figure(nights),
        occupancy_rate=Figure(_ratio(nights, available) if available else None),
        persons_housed=Figure(persons),
        households_housed=Figure(households),
        entries=Figure(entries),
        exits=Figure(exits),
        exits_to_housing=Figure(to_housing),
        exits_known_destination=Figure(known),
        exits_to_housing_rate=Figure(_ratio(to_housing, known)),
        unknown_destination_share=Figure(_ratio(exits - known, exits)),
        length_of_stay_mean_days=Figure(_days(mean_days)),
        length_of_stay_median_days=Figure(_days(median_days)),
        ongoing_at_end=Figure(ongoing),
        ongoing_mean_days=Figure(_days(ongoing_days)),
        ongoing_before=int(before),
    )
    return row
