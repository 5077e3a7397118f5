"""Serializers of query strings: each of their parameters is given once.

DRF reads a query string's last value for a field that takes one, so
``?ordering=id&ordering=-id`` ordered by ``-id`` and ``?group_by=site&group_by=use``
grouped by use, without a word. A parameter given twice is a 400 on it, as the
filters (config.filters.OnceFilterMixin), the page parameters
(config.permissions) and the OGC API (buildings.ogc.params) answer.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class OnceQuerySerializer(serializers.Serializer[Any]):
    """A query serializer whose one-value parameters given twice are a 400 each."""

    def to_internal_value(self, data: Any) -> Any:
        getlist = getattr(data, "getlist", None)
        if getlist is not None:
            repeated = sorted(
                name
                for name, field in self.fields.items()
                if not isinstance(field, serializers.ListField)
                and len(getlist(name)) > 1
            )
            if repeated:
                raise serializers.ValidationError(
                    {name: [_("Give this parameter once.")] for name in repeated}
                )
        return super().to_internal_value(data)
