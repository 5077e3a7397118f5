"""A django-filter FilterSet that does its class-level work once, not per request.

django-filter deep-copies every declared filter and builds a new form class (with
new form fields) on each instantiation: 3–5 ms of every list request, measured by
`make bench` on the building list, where PostGIS writes 30 features in 2 ms. The
filters and their form fields depend only on the class, so the form class is built
once per FilterSet class and the filters are copied shallowly (what each copy
changes, ``model``, ``parent`` and the ``method`` proxy, are set on the copy).

The form's fields are shared by its instances too (``_SharedFields``). A
subclass whose fields depend on the request (a ``ModelChoiceFilter`` with a
queryset callable, say) must not use this base.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import django_filters
from django import forms
from django.db.models import Model, QuerySet
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _


class _SharedFields(dict[str, forms.Field]):
    """A form's ``base_fields`` that its instances share instead of deep-copying
    (``BaseForm.__init__`` deep-copies them, widgets and validators included: a
    third of a small list request's Python). A filter form only validates query
    strings, which reads its fields and never changes them; it is never rendered
    with per-instance tweaks."""

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, forms.Field]:
        return dict(self)


class StaticFormFilterSet(django_filters.FilterSet):
    _form_classes: ClassVar[dict[type, type[forms.Form]]] = {}

    def __init__(
        self,
        data: QueryDict | None = None,
        queryset: QuerySet[Any] | None = None,
        *,
        request: Any = None,
        prefix: str | None = None,
    ) -> None:
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        model: type[Model] = queryset.model
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = {name: copy.copy(f) for name, f in self.base_filters.items()}
        for filter_ in self.filters.values():
            filter_.model = model
            filter_.parent = self
            if filter_.method is not None:
                # Rebinds the method proxy to this copy (it holds its filter).
                filter_.method = filter_.method

    def get_form_class(self) -> type[forms.Form]:
        cls = type(self)
        form_class = StaticFormFilterSet._form_classes.get(cls)
        if form_class is None:
            # From this instance's copies, which know the model (for labels).
            fields = {name: f.field for name, f in self.filters.items()}
            form_class = type(f"{cls.__name__}Form", (self._meta.form,), fields)
            form_class.base_fields = _SharedFields(form_class.base_fields)
            StaticFormFilterSet._form_classes[cls] = form_class
        return form_class


class _StrictNullBooleanSelect(forms.NullBooleanSelect):
    """Django's NullBooleanSelect reads any word it does not know as "unknown":
    ``?erp=maybe`` filtered nothing and said nothing. This one passes such a word
    on, for the field to refuse."""

    KNOWN: ClassVar[dict[Any, bool | None]] = {
        "": None,
        "unknown": None,
        "true": True,
        "True": True,
        "1": True,
        "2": True,  # NullBooleanSelect's own legacy values
        "false": False,
        "False": False,
        "0": False,
        "3": False,
    }

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        value = data.get(name)
        if value is None or isinstance(value, bool):
            return value
        return self.KNOWN.get(value, value)


class StrictNullBooleanField(forms.NullBooleanField):
    widget = _StrictNullBooleanSelect

    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]
        if value is None or isinstance(value, bool):
            return value
        raise forms.ValidationError(_("Give true or false."), code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    """A yes/no filter that refuses a value it cannot read (400 on its field),
    blank and "unknown" still meaning "either" (the pages' select sends them)."""

    field_class = StrictNullBooleanField


class CodeField(forms.CharField):
    """An administrative code (INSEE département or commune): compared in upper
    case, as the reference tables and the imports store them ("2a004" is Corsica's
    2A004, not a refusal or an empty answer)."""

    def to_python(self, value: Any) -> str:
        return str(super().to_python(value)).upper()


class CodeFilter(django_filters.CharFilter):
    field_class = CodeField


class CodeInFilter(django_filters.BaseInFilter, CodeFilter):
    """Comma-separated codes, each a CodeField: a NUL byte is a 400 on the field,
    not a database error (PostgreSQL refuses it in text)."""


class OnceFilterMixin:
    """A one-value filter given twice is a 400 on it, not its last value, and,
    unless ``blank_is_absent`` (the pages' forms send their empty fields), a
    blank one is a 400 too, not "no filter" (found by schemathesis, D1)."""

    blank_is_absent: ClassVar[bool] = True
    base_filters: ClassVar[dict[str, django_filters.Filter]]
    data: Any
    filters: dict[str, django_filters.Filter]
    form: Any

    def __init__(self, data: QueryDict | None = None, *args: Any, **kwargs: Any):
        """With ``blank_is_absent``, a multiple-choice filter's blank values are
        dropped before validation, as a blank one-value filter is no filter:
        ``?status=`` was a 400 ("select a valid choice")."""
        if data is not None and self.blank_is_absent and hasattr(data, "getlist"):
            blanks = [
                name
                for name, filter_ in self.base_filters.items()
                if isinstance(filter_, django_filters.MultipleChoiceFilter)
                and "" in data.getlist(name)
            ]
            if blanks:
                data = data.copy()
                for name in blanks:
                    data.setlist(name, [value for value in data.getlist(name) if value])
        super().__init__(data, *args, **kwargs)  # type: ignore[call-arg]

    def is_valid(self) -> bool:
        valid: bool = super().is_valid()  # type: ignore[misc]
        getlist: Any = getattr(self.data, "getlist", None)
        if getlist is None:
            return valid
        for name, filter_ in self.filters.items():
            values = getlist(name)
            repeated = len(values) > 1 and not isinstance(
                filter_, django_filters.MultipleChoiceFilter
            )
            blank = "" in values and not self.blank_is_absent
            if repeated or blank:
                self.form.add_error(
                    name, _("Give this filter once, with a value, or leave it out.")
                )
                valid = False
        return valid
