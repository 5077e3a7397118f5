"""Fields and the base serializer every occupancy endpoint shares: choice fields
named as one schema component each, and the strict input serializer that names
the keys a request may not set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

NOT_SETTABLE = _("This field cannot be set.")


class NamedChoiceField(serializers.ChoiceField):
    """A choice field whose enum is one named schema component.

    drf-spectacular names enums after the field (``status``, ``kind``…), and warns
    when two models' fields of one name have different choices; naming the component
    after the model's choices keeps the schema stable and free of warnings.
    """

    def __init__(
        self, choices: type[models.TextChoices], *, component: str, **kwargs: Any
    ) -> None:
        self.component = component
        self.values = list(choices.values)
        super().__init__(choices=choices.choices, **kwargs)


class NamedChoiceFieldExtension(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    target_class = NamedChoiceField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        field: NamedChoiceField = self.target
        component = ResolvedComponent(  # type: ignore[no-untyped-call]
            name=field.component,
            type=ResolvedComponent.SCHEMA,
            object=field.component,
            schema={"type": "string", "enum": field.values},
        )
        auto_schema.registry.register_on_missing(component)
        if not (field.allow_blank or field.allow_null):
            return component.ref
        variants: list[dict[str, Any]] = [component.ref]
        if field.allow_blank:
            variants.append({"type": "string", "enum": [""]})
        schema: dict[str, Any] = {"oneOf": variants}
        if field.allow_null:
            schema["nullable"] = True
        return schema


class StrictSerializer(serializers.Serializer[Any]):
    """Names the keys a request may not set instead of dropping them silently: a
    client must not believe it changed an operator, a status or a pseudonym
    (mass assignment, reliability.md B7)."""

    hints: Mapping[str, Any] = {}
    # Keys accepted without a field (DRF's ?format= on query strings).
    ignored: frozenset[str] = frozenset()

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {
                name for name, field in self.fields.items() if not field.read_only
            } | self.ignored
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError(
                    {name: [self.hints.get(name, NOT_SETTABLE)] for name in unknown}
                )
        return super().to_internal_value(data)
