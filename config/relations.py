"""The relation field of every request body that names a row: its choices are the
caller's, built per request from the serializer context.

Another tenant's id is refused on its field with the message a missing id gets
(DRF's "object does not exist"), so a 400 never tells whether the row exists
(reliability.md B4; a ``PrimaryKeyRelatedField`` over ``objects.all()`` accepts
any tenant's row).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.db import models
from django.db.models import QuerySet
from rest_framework import serializers

M = TypeVar("M", bound=models.Model)


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField[M]):
    """A relation whose choices are the caller's: ``scoped(context)`` builds them
    per request from the serializer context (``scope``, ``departments``…).

    An id outside them gets DRF's "object does not exist" on the field, exactly as a
    missing id does.
    """

    def __init__(
        self,
        model: type[M],
        scoped: Callable[[Mapping[str, Any]], QuerySet[M]],
        **kwargs: Any,
    ) -> None:
        self.scoped = scoped
        # The empty queryset tells the schema the model (and so the id's type).
        super().__init__(queryset=model._default_manager.none(), **kwargs)

    def get_queryset(self) -> QuerySet[M]:
        return self.scoped(self.context)
