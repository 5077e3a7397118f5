"""The indicators' query (a period, a grouping) and their report, figure by figure."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from config.forms import DayField
from config.queries import OnceQuerySerializer
from occupancy.api.serializers.fields import (
    StrictSerializer,
)
from occupancy.indicators import GroupBy

# The longest period the indicators compute in one request (month rows, scans).
INDICATOR_MAX_DAYS = 3661


class IndicatorQuerySerializer(StrictSerializer, OnceQuerySerializer):
    ignored = frozenset({"format"})

    period_start = DayField()
    period_end = DayField(help_text=_("Exclusive."))
    group_by = serializers.ChoiceField(
        choices=[(group.value, group.value) for group in GroupBy], required=False
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        days = (attrs["period_end"] - attrs["period_start"]).days
        if days <= 0:
            raise serializers.ValidationError(
                {"period_end": [_("The period must end after it starts.")]}
            )
        if days > INDICATOR_MAX_DAYS:
            raise serializers.ValidationError(
                {"period_end": [_("Ask for ten years at most at a time.")]}
            )
        return attrs


class CountFigureSerializer(serializers.Serializer[Any]):
    value = serializers.IntegerField(allow_null=True)
    suppressed = serializers.BooleanField(
        help_text=_("Withheld: fewer people than the threshold, or it would tell one.")
    )


class RatioFigureSerializer(serializers.Serializer[Any]):
    value = serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True)
    suppressed = serializers.BooleanField()


class DaysFigureSerializer(serializers.Serializer[Any]):
    value = serializers.DecimalField(max_digits=20, decimal_places=1, allow_null=True)
    suppressed = serializers.BooleanField()


class IndicatorRowSerializer(serializers.Serializer[Any]):
    group = serializers.CharField(
        help_text=_(
            "Empty for the whole selection; else the building id, the space use, "
            "the occupant category or the month's first day."
        )
    )
    start = DayField()
    end = DayField()
    places_average = serializers.DecimalField(
        max_digits=20, decimal_places=4, allow_null=True
    )
    places_at_end = serializers.IntegerField(allow_null=True)
    place_nights_available = serializers.IntegerField(allow_null=True)
    nights_provided = CountFigureSerializer()
    occupancy_rate = RatioFigureSerializer()
    persons_housed = CountFigureSerializer()
    households_housed = CountFigureSerializer()
    entries = CountFigureSerializer()
    exits = CountFigureSerializer()
    exits_to_housing = CountFigureSerializer()
    exits_known_destination = CountFigureSerializer()
    exits_to_housing_rate = RatioFigureSerializer()
    unknown_destination_share = RatioFigureSerializer()
    length_of_stay_mean_days = DaysFigureSerializer()
    length_of_stay_median_days = DaysFigureSerializer()
    ongoing_at_end = CountFigureSerializer()
    ongoing_mean_days = DaysFigureSerializer()


class IndicatorReportSerializer(serializers.Serializer[Any]):
    start = DayField()
    end = DayField()
    group_by = serializers.CharField(allow_null=True)
    exact = serializers.BooleanField(
        help_text=_("true: every figure is exact (an operator's own sites).")
    )
    threshold = serializers.IntegerField(
        help_text=_("Counts of people under this are withheld when not exact.")
    )
    rows = IndicatorRowSerializer(many=True)
    agreements_left_out = serializers.IntegerField(
        help_text=_(
            "Agreements whose households are withheld on their own: when not "
            "exact, each count of people adds up the agreements where it is "
            "published (0 when exact or for one agreement)."
        )
    )
    note = serializers.CharField(
        help_text=_("What the rows leave out, in a sentence ('' when nothing).")
    )
    methodology = serializers.CharField()
