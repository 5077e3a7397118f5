"""Form and serializer fields shared by the apps' pages and APIs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from rest_framework import serializers

from config.errors import DomainError

# Far enough for any period of figures, near enough for date arithmetic.
PERIOD_FIRST_DAY = date(1900, 1, 1)
PERIOD_LAST_DAY = date(2199, 12, 31)
# For any date field a person fills in: 0001-01-01 and 9999-12-31 are typing
# slips, not horizons, and date arithmetic on them overflows.
DAY_VALIDATORS = [
    MinValueValidator(PERIOD_FIRST_DAY),
    MaxValueValidator(PERIOD_LAST_DAY),
]


class PeriodDateField(forms.DateField):
    """A day that bounds a period of figures, from 1900 to 2199: the period's
    arithmetic (the day after the last, a year before the end) stays within
    Python's dates (9999-12-31 plus a day raised OverflowError, a 500)."""

    default_validators = list(DAY_VALIDATORS)


def refused_move_error(
    form: forms.Form, refused: Callable[[str], DomainError | None]
) -> DomainError | None:
    """What a page says of an invalid status-move form it cannot show with its
    errors: a bad hidden status, or a move no longer offered (``refused(to)``:
    someone moved the object meanwhile; the 409 that valid input gets says the
    same)."""
    error = hidden_field_error(form)
    to = form.cleaned_data.get("to")
    if error is None and to:
        error = refused(to)
    return error


def hidden_field_error(form: forms.Form) -> DomainError | None:
    """The errors of ``form``'s hidden inputs as one error the page shows: a hidden
    input has no place of its own for them (a bad status in a transition form gave
    a 400 page with no message)."""
    hidden = [field for field in form.hidden_fields() if field.errors]
    if not hidden:
        return None
    # Their labels are no words for users ("To"): Django's messages say enough.
    return DomainError(" ".join(str(e) for field in hidden for e in field.errors))


class DayField(serializers.DateField):
    """An API's date a person or a client fills in, from 1900 to 2199, as the
    pages' (``DAY_VALIDATORS``): 9999-12-31 as a commitment's end was stored,
    then offered some 8,000 years to the funders' page (found by a review)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["validators"] = [*kwargs.get("validators", ()), *DAY_VALIDATORS]
        super().__init__(**kwargs)
