"""Cell values: from the text of a file to the value a Building field holds.

Each parser takes the row's ``RowIssues``, the column it reads and the raw text; it
returns the value (None when the cell is empty) and records what it could not
accept — an error rejects the row, a warning keeps it.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.utils.text import slugify
from django.utils.translation import gettext as _

from buildings.models import (
    AREA_CODE_PATTERN,
    COMMUNE_CODE_PATTERN,
    PARCEL_ID_PATTERN,
    RNB_ID_PATTERN,
)

# Written in the files for "no value": DIE coordinates use "-", CNIG uses "NA".
MISSING = frozenset({"", "-", "na", "n/a", "null", "(null)", "none", "nan"})
MISSING_TEXT = frozenset({"", "NA", "N/A", "(null)", "NULL"})
TRUE_WORDS = frozenset({"oui", "o", "vrai", "true", "t", "yes", "y", "1", "x"})
FALSE_WORDS = frozenset({"non", "n", "faux", "false", "f", "no", "0"})
ISO_DATE = re.compile(r"^([0-9]{4})[-/]([0-9]{2})[-/]([0-9]{2})(?:[T ][0-9:.+Z-]*)?$")
FRENCH_DATE = re.compile(r"^([0-9]{2})/([0-9]{2})/([0-9]{4})$")
COMMUNE_CODE = re.compile(COMMUNE_CODE_PATTERN)
# A département, or a collectivité d'outre-mer with INSEE communes (977…).
DEPARTMENT_CODE = re.compile(AREA_CODE_PATTERN)
PARCEL_ID = re.compile(PARCEL_ID_PATTERN)
RNB_ID = re.compile(RNB_ID_PATTERN)
# A number with a comma as the decimal separator ("12,5", "1 234,56").
COMMA_DECIMAL = re.compile(r"^-?[\d\s\u00a0\u202f.]*\d,\d+$")
LIST_SEPARATORS = re.compile(r"[,;|\s]+")
FOLD_CACHE = 8192
# A coordinate decimal() keeps as written: up to 11 digits, up to 9 decimals.
PLAIN_COORDINATE = re.compile(r"-?[0-9]{1,11}(?:\.[0-9]{0,9})?")


@dataclass
class RowIssues:
    errors: list[tuple[str | None, str]] = field(default_factory=list)
    warnings: list[tuple[str | None, str]] = field(default_factory=list)

    def error(self, column: str | None, reason: str) -> None:
        self.errors.append((column, reason))

    def warn(self, column: str | None, reason: str) -> None:
        self.warnings.append((column, reason))


@functools.lru_cache(maxsize=FOLD_CACHE)
def fold(value: str) -> str:
    """Lower case, no accents, typographic apostrophes straightened: for matching.

    Characters without an ASCII decomposition (œ, €) are dropped: fine for
    comparing labels and making slugs, which is all this is for. Cached: most
    folded cells are labels repeated on thousands of rows."""
    if not value.isascii():
        value = (
            unicodedata.normalize("NFKD", value.replace("’", "'"))
            .encode("ascii", "ignore")
            .decode("ascii")
        )
    # split() splits on the characters \s matches: whitespace collapsed, trimmed.
    return " ".join(value.split()).lower()


def slug(value: str, *, max_length: int = 120) -> str:
    return slugify(fold(value))[:max_length].strip("-") or "-"


def is_missing(value: str) -> bool:
    return value.strip().lower() in MISSING


def text(issues: RowIssues, column: str, value: str, *, max_length: int) -> str:
    """Whitespace collapsed (the DIE pads labels with double spaces)."""
    cleaned = " ".join(value.split())
    if cleaned in MISSING_TEXT:
        return ""
    if len(cleaned) > max_length:
        issues.error(
            column,
            _("The value is longer than %(max)d characters.") % {"max": max_length},
        )
        return ""
    return cleaned


def decimal(
    issues: RowIssues,
    column: str,
    value: str,
    *,
    max_digits: int = 12,
    places: int = 2,
    minimum: Decimal | None = Decimal(0),
) -> Decimal | None:
    cleaned = value.strip()
    if is_missing(cleaned):
        return None
    if "," in cleaned and COMMA_DECIMAL.match(cleaned):
        issues.error(
            column,
            _("“%(value)s”: write numbers with a dot for decimals (12.5), no spaces.")
            % {"value": cleaned},
        )
        return None
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        issues.error(column, _("“%(value)s” is not a number.") % {"value": cleaned})
        return None
    number = number.quantize(Decimal(1).scaleb(-places))
    if minimum is not None and number < minimum:
        issues.error(
            column,
            _("%(value)s is below the minimum, %(minimum)s.")
            % {"value": number, "minimum": minimum},
        )
        return None
    if abs(number) >= Decimal(10) ** (max_digits - places):
        issues.error(column, _("%(value)s is too large.") % {"value": number})
        return None
    return number


def coordinate(issues: RowIssues, column: str, value: str) -> float | None:
    cleaned = value.strip()
    if PLAIN_COORDINATE.fullmatch(cleaned):
        # Already what decimal() would make of it (at most 9 decimals, in range):
        # the float of the text is the float of that Decimal.
        return float(cleaned)
    number = decimal(issues, column, value, max_digits=20, places=9, minimum=None)
    return None if number is None else float(number)


def integer(issues: RowIssues, column: str, value: str) -> int | None:
    number = decimal(issues, column, value, max_digits=24, places=6, minimum=None)
    if number is None:
        return None
    if number != number.to_integral_value():
        issues.error(column, _("“%(value)s” is not a whole number.") % {"value": value})
        return None
    return int(number)


def year(issues: RowIssues, column: str, value: str, *, latest: int) -> int | None:
    """Placeholder years (the DIE writes 0001 for "unknown") become no year."""
    number = integer(issues, column, value)
    if number is None:
        return None
    if number < 1000 or number > latest:
        issues.warn(
            column,
            _("The year %(value)s is not plausible: recorded as unknown.")
            % {"value": value.strip()},
        )
        return None
    return number


def parse_date(issues: RowIssues, column: str, value: str) -> date | None:
    cleaned = value.strip()
    if is_missing(cleaned):
        return None
    # YYYY-MM-DD, or YYYY/MM/DD as GDAL writes GeoPackage dates; timestamps keep
    # their date part. Then the French DD/MM/YYYY.
    match = ISO_DATE.match(cleaned)
    parts = match.groups() if match else None
    if parts is None and (match := FRENCH_DATE.match(cleaned)):
        day, month, year_ = match.groups()
        parts = (year_, month, day)
    if parts is not None:
        try:
            return date(*(int(part) for part in parts))
        except ValueError:
            pass
    issues.error(
        column,
        _("“%(value)s” is not a date (expected DD/MM/YYYY or YYYY-MM-DD).")
        % {"value": cleaned},
    )
    return None


def boolean(issues: RowIssues, column: str, value: str) -> bool | None:
    word = fold(value)
    if word in MISSING:
        return None
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    issues.error(
        column, _("“%(value)s” is neither yes (Oui) nor no (Non).") % {"value": value}
    )
    return None


def is_digits(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also takes "²" and "１", which the
    database's ``[0-9]`` checks refuse (one such cell failed a whole import)."""
    return text.isascii() and text.isdigit()


def department_code(issues: RowIssues, column: str, value: str) -> str | None:
    """INSEE département code; the DIE drops leading zeros ("2" for Aisne).
    Saint-Pierre-et-Miquelon, Saint-Barthélemy and Saint-Martin (975, 977, 978)
    are read too: their rows are kept, linked by their commune alone."""
    cleaned = value.strip().upper()
    if is_missing(cleaned):
        return None
    if is_digits(cleaned) and len(cleaned) < 2:
        cleaned = cleaned.zfill(2)
    if cleaned == "20":
        issues.error(column, _("“20” is not a département: Corsica is 2A or 2B."))
        return None
    if not DEPARTMENT_CODE.match(cleaned):
        issues.error(
            column,
            _("“%(value)s” is not a département code.") % {"value": value.strip()},
        )
        return None
    return cleaned


def commune_code(issues: RowIssues, column: str, value: str) -> str | None:
    """INSEE commune code, or None (with a warning) when it is not one."""
    cleaned = value.strip().upper()
    if is_missing(cleaned):
        return None
    if is_digits(cleaned) and len(cleaned) == 4:
        cleaned = "0" + cleaned  # read as a number somewhere upstream
    if not COMMUNE_CODE.match(cleaned):
        issues.warn(
            column,
            _("“%(value)s” is not an INSEE commune code: no commune recorded.")
            % {"value": value.strip()},
        )
        return None
    return cleaned


def id_list(value: str) -> list[str]:
    """``{a,b}`` (PostgreSQL arrays, as Cartofriches writes them), or a, b; c."""
    cleaned = value.strip().strip("{}[]")
    if is_missing(cleaned):
        return []
    items = (item.strip().strip("\"'") for item in LIST_SEPARATORS.split(cleaned))
    return list(dict.fromkeys(item.upper() for item in items if item))


def parcel_ids(issues: RowIssues, column: str, value: str) -> list[str]:
    """Valid IDUs; malformed ones are reported and left out, the row is kept."""
    kept: list[str] = []
    for item in id_list(value):
        if PARCEL_ID.match(item):
            kept.append(item)
        else:
            issues.warn(
                column,
                _("“%(value)s” is not a cadastral parcel id (IDU): left out.")
                % {"value": item},
            )
    return kept


def rnb_ids(issues: RowIssues, column: str, value: str) -> list[str]:
    kept: list[str] = []
    for item in id_list(value):
        compact = item.replace("-", "")
        if RNB_ID.match(compact):
            kept.append(compact)
        else:
            issues.warn(
                column,
                _("“%(value)s” is not an RNB id: left out.") % {"value": item},
            )
    return kept
