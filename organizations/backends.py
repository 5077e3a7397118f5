"""The authentication backend: Django's ModelBackend, with the user of a
session and their memberships loaded by one plain statement.

``get_user`` runs on every authenticated request; the ORM's compilation of
``User.objects.get(pk=…)`` cost 0.6 ms of its 0.8 ms (bench: agent tiles), and the
memberships, which every such request reads next (``scope_for``), were a round
trip of their own. Logging in, passwords and permissions stay ModelBackend's,
except that a login's rehash of the password keeps the user's API tokens
(``authenticate``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connections, models, router, transaction
from django.http import HttpRequest

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


# Read by the trigger that deletes a user's API tokens when the stored password
# hash changes (organizations migrations 0002, 0003).
REHASH_MARK = "intercalaire.password_rehash"


@contextmanager
def password_rehash(using: str) -> Iterator[None]:
    """A block where a new hash of the password is not a new password: the
    trigger keeps the user's API tokens. ``set_config(…, true)`` lasts until the
    transaction ends, so the mark is taken off at the end of the block, in case
    the block runs inside a longer transaction; a rollback takes it off too."""
    with transaction.atomic(using=using):
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'on', true)", [REHASH_MARK])
        yield
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT set_config(%s, '', true)", [REHASH_MARK])


class ModelBackend(DjangoModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        """ModelBackend's: a successful check may rehash the password (a hasher
        or a work factor no longer preferred, ``User.check_password``), which is
        the same password, so the user's API tokens stay."""
        with password_rehash(router.db_for_write(get_user_model())):
            return super().authenticate(
                request, username=username, password=password, **kwargs
            )

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
