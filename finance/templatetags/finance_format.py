"""Amounts for the finance pages, formatted fast.

``floatformat:"2g"`` goes through Django's locale-aware number formatting for each
cell, which dominated the dashboard's rendering (hundreds of cells); this filter
formats the Decimal once with Python and swaps in the active language's
separators. Decimals only: no amount ever passes through a float.
"""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.formats import get_format

register = template.Library()


@register.filter
def amount(value: Decimal | int | None, places: int = 2) -> str:
    """``1234567.5`` → ``1 234 567,50`` in French, ``1,234,567.50`` in English;
    None → an em dash."""
    if value is None:
        return "—"
    text = f"{Decimal(value):,.{int(places)}f}"
    thousands = str(get_format("THOUSAND_SEPARATOR"))
    decimal = str(get_format("DECIMAL_SEPARATOR"))
    return text.replace(",", "\0").replace(".", decimal).replace("\0", thousands)
