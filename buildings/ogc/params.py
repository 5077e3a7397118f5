"""Query parameters of the OGC API: parsed strictly, refused with a reason.

Part 1 asks for a 400 both for a parameter the API definition does not list
(Requirement 8, /req/core/query-param-unknown) and for an invalid value
(Requirement 9, /req/core/query-param-invalid); the one exception is a limit
above the maximum, which is lowered rather than refused (/req/core/fc-limit-response).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection as Names
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import QueryDict
from django.utils.translation import gettext as _

from buildings.ogc.collections import CRS84, Collection, Kind

MAX_VALUES = 100  # values of one list filter; more is an invalid value
MAX_CURSOR_LENGTH = 1024
# RFC 3339 §5.6 date-time, and a bare full-date (a common client shorthand).
_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Characters PostgreSQL text refuses (NUL) or that no code contains.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InvalidParameter(Exception):
    """A 400 with the OGC exception code ``InvalidParameterValue``."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


class Format(StrEnum):
    JSON = "json"
    HTML = "html"


# What ``Accept`` may name for each format, in the server's order of preference.
ACCEPTED: dict[Format, tuple[str, ...]] = {
    Format.JSON: (
        "application/geo+json",
        "application/json",
        "application/schema+json",
        "application/vnd.oai.openapi+json",
    ),
    Format.HTML: ("text/html", "application/xhtml+xml"),
}


def check_known(params: QueryDict, allowed: Names[str]) -> None:
    """Refuse unknown and repeated parameters (Requirement 8; a repeated one
    has no defined meaning, hence an invalid value)."""
    for name in params:
        if name not in allowed:
            raise InvalidParameter(
                name,
                _("Unknown parameter. Accepted here: %(names)s.")
                % {"names": ", ".join(sorted(allowed)) or "—"},
            )
        if len(params.getlist(name)) > 1:
            raise InvalidParameter(name, _("Give this parameter once."))


def _accept_ranges(header: str) -> list[tuple[str, float]]:
    ranges = []
    for part in header.split(","):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        if not media:
            continue
        quality = 1.0
        for parameter in parameters:
            key, _sep, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((media.lower(), quality))
    return ranges


def _quality(media_type: str, ranges: Sequence[tuple[str, float]]) -> float:
    """Quality the client gives ``media_type``: the most specific range wins."""
    kind = media_type.split("/")[0]
    best: tuple[int, float] = (-1, 0.0)
    for media, quality in ranges:
        if media == media_type:
            specificity = 2
        elif media == f"{kind}/*":
            specificity = 1
        elif media == "*/*":
            specificity = 0
        else:
            continue
        if specificity > best[0]:
            best = (specificity, quality)
    return best[1]


def output_format(params: QueryDict, accept: str) -> Format:
    """``f`` first, else ``Accept``; JSON when neither says (clients such as
    GDAL and OWSLib send ``*/*`` or JSON types; browsers rank text/html first).
    An Accept that names nothing we serve gets JSON rather than a 406."""
    value = params.get("f")
    if value is not None:
        try:
            return Format(value)
        except ValueError:
            raise InvalidParameter(
                "f", _("Expected one of: %(values)s.") % {"values": "json, html"}
            ) from None
    ranges = _accept_ranges(accept)
    if not ranges:
        return Format.JSON
    scored = [
        (max(_quality(media, ranges) for media in ACCEPTED[kind]), -rank, kind)
        for rank, kind in enumerate(Format)
    ]
    quality, _rank, chosen = max(scored)
    return chosen if quality > 0 else Format.JSON


@dataclass(frozen=True)
class Interval:
    """Calendar days, both included; None is an open end."""

    start: date | None
    end: date | None


@dataclass(frozen=True)
class ItemsQuery:
    # Each box is (min lon, min lat, max lon, max lat); two when the requested box
    # spans the antimeridian.
    boxes: tuple[tuple[float, float, float, float], ...] = ()
    interval: Interval | None = None
    filters: dict[str, tuple[str, ...] | bool] = field(default_factory=dict)
    limit: int = 100
    cursor: str | None = None


def items_parameters(collection: Collection) -> frozenset[str]:
    return frozenset(
        {"f", "bbox", "bbox-crs", "limit", "datetime", "cursor"}
        | {queryable.name for queryable in collection.queryables}
    )


def parse_limit(value: str | None, *, default: int, maximum: int) -> int:
    """Requirement 20 fragment (integer, minimum 1); above the maximum the
    maximum applies (Requirement 21, 17-069r4: "SHALL NOT result in an error")."""
    if value is None:
        return min(default, maximum)
    if not re.fullmatch(r"\+?\d{1,9}", value.strip()) or int(value) < 1:
        raise InvalidParameter("limit", _("Expected an integer of at least 1."))
    return min(int(value), maximum)


def parse_bbox(
    value: str, crs: str | None
) -> tuple[tuple[float, float, float, float], ...]:
    """Requirement 23: four numbers in CRS84, within its extent, or six with the
    heights after each corner's latitude (ignored: the data are 2D). A west
    edge east of the east edge spans the antimeridian (the API definition's bbox
    description) and becomes two boxes."""
    if crs is not None and crs != CRS84:
        raise InvalidParameter(
            "bbox-crs", _("Only %(crs)s is supported.") % {"crs": CRS84}
        )
    try:
        numbers = [float(part) for part in value.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or not all(math.isfinite(number) for number in numbers):
        raise InvalidParameter(
            "bbox",
            _(
                "Expected four numbers: min lon, min lat, max lon, max lat (CRS84); "
                "or six, with min and max heights after the latitudes."
            ),
        )
    west, south, east, north = numbers
    if not (-180 <= west <= 180 and -180 <= east <= 180):
        raise InvalidParameter("bbox", _("Longitudes lie between -180 and 180."))
    if not (-90 <= south <= north <= 90):
        raise InvalidParameter(
            "bbox", _("Latitudes lie between -90 and 90, the southern one first.")
        )
    if west <= east:
        return ((west, south, east, north),)
    return ((west, south, 180.0, north), (-180.0, south, east, north))


def _instant(value: str) -> date:
    """An RFC 3339 date-time (Requirement 25 E) as its calendar day in the
    project's time zone, where the vacancy dates are civil dates; or a full-date."""
    try:
        if _FULL_DATE.match(value):
            return date.fromisoformat(value)
        if _DATE_TIME.match(value):
            moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
            try:
                return moment.astimezone(ZoneInfo(settings.TIME_ZONE)).date()
            except OverflowError:
                # A valid instant within a day of year 1 or 9999 whose local day
                # lies past the calendar's end ("9999-12-31T23:59:59Z", a common
                # "for ever"): that end is the day.
                return date.max if moment.year == date.max.year else date.min
    except ValueError:
        pass
    raise InvalidParameter(
        "datetime",
        _(
            "Expected an RFC 3339 date-time (2024-01-01T00:00:00Z), a date, or an "
            "interval of them with '/', open ends written '..' or left empty."
        ),
    )


def parse_datetime(value: str) -> Interval:
    """Requirement 25 D–F: an instant, a closed interval, or a half-bounded one
    (``../2024-01-01``, ``2024-01-01/..``, or an empty end)."""
    if "/" not in value:
        day = _instant(value)
        return Interval(day, day)
    start_text, _slash, end_text = value.partition("/")
    start = None if start_text in ("", "..") else _instant(start_text)
    end = None if end_text in ("", "..") else _instant(end_text)
    if start is None and end is None:
        raise InvalidParameter(
            "datetime", _("At least one end of the interval must be given.")
        )
    if start is not None and end is not None and start > end:
        raise InvalidParameter("datetime", _("The start must precede the end."))
    return Interval(start, end)


def _filter_value(
    collection: Collection, name: str, value: str
) -> tuple[str, ...] | bool:
    queryable = collection.queryable(name)
    if queryable is None:  # check_known lets only queryables through
        raise InvalidParameter(name, _("Unknown parameter."))
    if queryable.kind is Kind.BOOLEAN:
        if value not in ("true", "false"):
            raise InvalidParameter(name, _("Expected true or false."))
        return value == "true"
    values = (
        tuple(part.strip() for part in value.split(","))
        if queryable.many
        else (value.strip(),)
    )
    if queryable.code:
        values = tuple(part.upper() for part in values)
    if (
        not values
        or len(values) > MAX_VALUES
        or any(
            not part or len(part) > queryable.max_length or _CONTROL.search(part)
            for part in values
        )
    ):
        raise InvalidParameter(
            name,
            _("Expected up to %(count)d comma-separated codes.")
            % {"count": MAX_VALUES},
        )
    if queryable.enum and not set(values) <= set(queryable.enum):
        raise InvalidParameter(
            name,
            _("Expected one or more of: %(values)s.")
            % {"values": ", ".join(queryable.enum)},
        )
    return values


def parse_items(
    params: QueryDict, collection: Collection, *, default_limit: int, maximum: int
) -> ItemsQuery:
    check_known(params, items_parameters(collection))
    if "bbox-crs" in params and "bbox" not in params:
        raise InvalidParameter("bbox-crs", _("bbox-crs goes with bbox."))
    cursor = params.get("cursor")
    if cursor is not None and (not cursor or len(cursor) > MAX_CURSOR_LENGTH):
        raise InvalidParameter("cursor", _("This cursor is invalid or expired."))
    bbox = params.get("bbox")
    moment = params.get("datetime")
    filters = {}
    for queryable in collection.queryables:
        value = params.get(queryable.name)
        if value is not None:
            filters[queryable.name] = _filter_value(collection, queryable.name, value)
    return ItemsQuery(
        boxes=() if bbox is None else parse_bbox(bbox, params.get("bbox-crs")),
        interval=None if moment is None else parse_datetime(moment),
        filters=filters,
        limit=parse_limit(params.get("limit"), default=default_limit, maximum=maximum),
        cursor=cursor,
    )
