"""The authentication backend: Django's ModelBackend, with the user of a
session and their memberships loaded by one plain statement.

``get_user`` runs on every authenticated request; the ORM's compilation of
``User.objects.get(pk=…)`` cost 0.6 ms of its 0.8 ms (bench: agent tiles), and the
memberships, which every such request reads next (``scope_for``), were a round
trip of their own. Logging in, passwords and permissions stay ModelBackend's.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connections, models, router

from organizations.selectors import memberships_column, remember_memberships


@cache
def select_list(
    model: type[models.Model], alias: str, prefix: str = ""
) -> tuple[str, list[str]]:
    """The model's concrete columns, quoted (``prefix.`` before each), and their
    attribute names in the same order, for ``model.from_db``."""
    quote = connections[alias].ops.quote_name
    fields = model._meta.concrete_fields
    columns = ", ".join(f"{prefix}{quote(str(field.column))}" for field in fields)
    return columns, [field.attname for field in fields]


@cache
def _user_sql(model: type[User], alias: str) -> tuple[str, list[str]]:
    quote = connections[alias].ops.quote_name
    columns, attnames = select_list(model, alias)
    table = quote(model._meta.db_table)
    primary_key = quote(str(model._meta.pk.column))
    # Identifiers from the model's metadata, quoted; the id is a parameter.
    sql = (
        f"SELECT {columns}, {memberships_column(f'{table}.{primary_key}')} "  # noqa: S608
        f"FROM {table} WHERE {primary_key} = %s"
    )
    return sql, attnames


class ModelBackend(DjangoModelBackend):
    def get_user(self, user_id: Any) -> User | None:
        model = get_user_model()
        try:
            user_id = model._meta.pk.to_python(user_id)
        except (TypeError, ValueError, ValidationError):  # a malformed id: no user
            return None
        alias = router.db_for_read(model)
        sql, attnames = _user_sql(model, alias)
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, [user_id])
            row = cursor.fetchone()
        if row is None:
            return None
        user = model.from_db(alias, attnames, row[:-1])
        if not self.user_can_authenticate(user):
            return None
        remember_memberships(user, row[-1])
        return user
