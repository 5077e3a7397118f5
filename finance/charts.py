"""Server-rendered charts for the finance pages: plain SVG, no script.

Each chart is a frozen dataclass of already computed geometry that a template
draws (templates/finance/_bars.html, _map.html), always next to a table of the
same figures, so a screen reader or a printout loses nothing. Sizes are set by
SVG attributes, never by inline styles, which the Content-Security-Policy forbids.
Bar lengths are computed from the amounts with Decimal arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from finance.indicators import CoFunding, Progress, SiteFigures

# Horizontal bars: the label column, then the bars on a 0..BAR_SPACE scale.
LABEL_WIDTH = 200
BAR_SPACE = 340
ROW_HEIGHT = 34
TENTH = Decimal("0.1")


def _length(amount: Decimal, largest: Decimal) -> Decimal:
    if largest <= 0 or amount <= 0:
        return Decimal(0)
    return (amount * BAR_SPACE / largest).quantize(TENTH, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ProgressBar:
    label: str
    committed: Decimal
    disbursed: Decimal
    committed_length: Decimal
    disbursed_length: Decimal
    y: int


@dataclass(frozen=True)
class ProgressChart:
    """Committed (outline) and disbursed (filled) amounts, one row per group."""

    id: str
    title: str
    bars: tuple[ProgressBar, ...]
    rows: tuple[Progress, ...]
    height: int
    label_width: int = LABEL_WIDTH
    width: int = LABEL_WIDTH + BAR_SPACE + 10


MAX_BARS = 12


def progress_chart(
    rows: Sequence[Progress], *, chart_id: str, title: str
) -> ProgressChart:
    """The first ``MAX_BARS`` groups (the largest: rows come sorted) as bars; the
    table under the chart lists them all (``ProgressChart.rows``)."""
    largest = max(
        [Decimal(0)] + [r.committed for r in rows] + [r.disbursed for r in rows]
    )
    bars = tuple(
        ProgressBar(
            label=row.label,
            committed=row.committed,
            disbursed=row.disbursed,
            committed_length=_length(row.committed, largest),
            disbursed_length=_length(row.disbursed, largest),
            y=index * ROW_HEIGHT,
        )
        for index, row in enumerate(rows[:MAX_BARS])
    )
    return ProgressChart(
        id=chart_id,
        title=title,
        bars=bars,
        rows=tuple(rows),
        height=max(len(bars), 1) * ROW_HEIGHT,
    )


@dataclass(frozen=True)
class ShareBar:
    label: str
    amount: Decimal
    percent: Decimal | None
    length: Decimal
    is_state: bool
    y: int


@dataclass(frozen=True)
class ShareChart:
    id: str
    title: str
    variant: CoFunding
    bars: tuple[ShareBar, ...]
    height: int
    label_width: int = LABEL_WIDTH
    width: int = LABEL_WIDTH + BAR_SPACE + 10


def share_chart(cofunding: CoFunding, *, chart_id: str, title: str) -> ShareChart:
    """Each funder's share of the total, as a bar on a 0–100 % scale."""
    bars = tuple(
        ShareBar(
            label=share.funder,
            amount=share.amount,
            percent=None if share.share is None else share.share * 100,
            length=_length(share.amount, cofunding.total),
            is_state=share.is_state,
            y=index * ROW_HEIGHT,
        )
        for index, share in enumerate(cofunding.shares)
    )
    return ShareChart(
        id=chart_id,
        title=title,
        variant=cofunding,
        bars=bars,
        height=max(len(bars), 1) * ROW_HEIGHT,
    )


# --- The small map of funded sites
MAP_WIDTH = 320
MAP_HEIGHT = 220
MAP_MARGIN = 24


@dataclass(frozen=True)
class MapPoint:
    number: int
    label: str
    x: Decimal
    y: Decimal


@dataclass(frozen=True)
class SiteMap:
    """Sites as numbered points, placed in an equirectangular view of their own
    extent (longitudes shrunk by the cosine of the mean latitude, so distances
    look right at the scale of a département). Not a basemap: a sketch that the
    table under it numbers."""

    points: tuple[MapPoint, ...]
    width: int = MAP_WIDTH
    height: int = MAP_HEIGHT


def site_map(sites: Sequence[SiteFigures]) -> SiteMap:
    # Numbered as in the sites' table, which also lists the sites without a point.
    located = [
        (number, site)
        for number, site in enumerate(sites, start=1)
        if site.longitude is not None and site.latitude is not None
    ]
    if not located:
        return SiteMap(points=())
    # Coordinates are degrees (floats from GEOS); they become Decimal geometry here.
    lons = [Decimal(str(site.longitude)) for _, site in located]
    lats = [Decimal(str(site.latitude)) for _, site in located]
    mean_lat = sum(lats, Decimal(0)) / len(lats)
    # cos(latitude) by its Taylor series: enough for a sketch, no float needed.
    radians = mean_lat * Decimal("0.0174532925")
    shrink = 1 - radians**2 / 2 + radians**4 / 24
    span_x = (max(lons) - min(lons)) * shrink
    span_y = max(lats) - min(lats)
    inner_w = Decimal(MAP_WIDTH - 2 * MAP_MARGIN)
    inner_h = Decimal(MAP_HEIGHT - 2 * MAP_MARGIN)
    scale = min(
        inner_w / span_x if span_x else Decimal("Infinity"),
        inner_h / span_y if span_y else Decimal("Infinity"),
    )
    if scale == Decimal("Infinity"):  # one site, or all at one place
        scale = Decimal(0)
    centre_lon = (max(lons) + min(lons)) / 2
    centre_lat = (max(lats) + min(lats)) / 2
    points = []
    for (number, site), lon, lat in zip(located, lons, lats, strict=True):
        x = MAP_MARGIN + inner_w / 2 + (lon - centre_lon) * shrink * scale
        y = MAP_MARGIN + inner_h / 2 - (lat - centre_lat) * scale
        points.append(
            MapPoint(
                number=number,
                label=site.designation,
                x=x.quantize(TENTH, rounding=ROUND_HALF_UP),
                y=y.quantize(TENTH, rounding=ROUND_HALF_UP),
            )
        )
    return SiteMap(points=tuple(points))
