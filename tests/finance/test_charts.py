"""Chart geometry (finance/charts.py) and the amount filter of the pages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import translation

from finance.charts import BAR_SPACE, MAX_BARS, progress_chart, site_map
from finance.indicators import Progress
from finance.templatetags.finance_format import amount
from tests.finance.test_indicators import agent, board


def progress(label: str, committed: str, disbursed: str) -> Progress:
    return Progress(label, label, Decimal(committed), Decimal(disbursed))


def test_bars_are_scaled_on_the_largest_amount() -> None:
    chart = progress_chart(
        [progress("a", "200.00", "50.00"), progress("b", "100.00", "100.00")],
        chart_id="x",
        title="X",
    )
    lengths = [(b.committed_length, b.disbursed_length) for b in chart.bars]
    assert lengths == [
        (Decimal(BAR_SPACE), Decimal(BAR_SPACE) / 4),
        (Decimal(BAR_SPACE) / 2, Decimal(BAR_SPACE) / 2),
    ]


def test_many_groups_draw_the_largest_and_tabulate_all() -> None:
    rows = [progress(str(n), str(100 - n), "0") for n in range(MAX_BARS + 5)]
    chart = progress_chart(rows, chart_id="x", title="X")
    assert len(chart.bars) == MAX_BARS
    assert len(chart.rows) == MAX_BARS + 5


def test_an_empty_chart_has_no_bar() -> None:
    assert progress_chart([], chart_id="x", title="X").bars == ()


@pytest.mark.django_db
def test_the_map_numbers_sites_as_the_table_does(case: object) -> None:
    dashboard = board(agent())
    points = site_map(dashboard.sites).points
    assert [p.number for p in points] == [1]
    # One site: drawn in the middle of the sketch.
    assert (points[0].x, points[0].y) == (Decimal("160.0"), Decimal("110.0"))


@pytest.mark.parametrize(
    ("language", "expected"),
    [("fr", "1\xa0234\xa0567,50"), ("en", "1,234,567.50")],
)
def test_amounts_use_the_languages_separators(language: str, expected: str) -> None:
    with translation.override(language):
        assert amount(Decimal("1234567.5")) == expected
        assert amount(None) == "—"
        assert amount(Decimal("-3"), 0) == "-3"
