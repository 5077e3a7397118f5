"""API token authentication: knox's, with the token, its user and the user's
memberships read by one plain statement.

knox looks a token up with two ORM queries on every request (the token with its
user, then every token of that user, to delete the expired ones): 2 ms of the
5 ms of a token-authenticated ``GET /api/v1/me/``, most of it the ORM compiling
them. Here one statement reads the candidate tokens, their user and whether
that user has an expired token. When one has expired (rare: tokens live
``API_TOKEN_TTL_DAYS``), or when tokens are renewed on use, knox's own code runs
instead, with its deletions and ``token_expired`` signals. The hash comparison,
the inactive-user check and the answers are knox's.
"""

from __future__ import annotations

import binascii
from functools import cache
from hmac import compare_digest
from typing import cast

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connections, router
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth
from knox.crypto import hash_token
from knox.models import AbstractAuthToken, get_token_model
from knox.settings import CONSTANTS, knox_settings
from rest_framework import exceptions

from organizations.backends import select_list
from organizations.selectors import memberships_column, remember_memberships

_Answer = tuple[AbstractBaseUser, AbstractAuthToken]


@cache
def _token_sql(alias: str) -> tuple[str, list[str], list[str]]:
    token_model, user_model = get_token_model(), get_user_model()
    quote = connections[alias].ops.quote_name
    token_columns, token_attnames = select_list(token_model, alias, "t.")
    user_columns, user_attnames = select_list(user_model, alias, "u.")
    user_fk = quote(str(token_model._meta.get_field("user").column))
    user_pk = quote(str(user_model._meta.pk.column))
    tokens = quote(token_model._meta.db_table)
    expiry = quote(str(token_model._meta.get_field("expiry").column))
    key = quote(str(token_model._meta.get_field("token_key").column))
    # Identifiers from the models' metadata, quoted; values are parameters.
    sql = (
        f"SELECT {token_columns}, {user_columns}, "  # noqa: S608
        f"{memberships_column(f'u.{user_pk}')}, EXISTS ("
        f"SELECT 1 FROM {tokens} AS o WHERE o.{user_fk} = t.{user_fk} "
        f"AND o.{expiry} < %s) "
        f"FROM {tokens} AS t JOIN {quote(user_model._meta.db_table)} AS u "
        f"ON u.{user_pk} = t.{user_fk} WHERE t.{key} = %s"
    )
    return sql, token_attnames, user_attnames


def _candidates(key: str) -> tuple[list[AbstractAuthToken], bool]:
    """The tokens under this lookup key, each with its user (and the user's scope),
    and whether any of their users holds an expired token."""
    token_model, user_model = get_token_model(), get_user_model()
    alias = router.db_for_read(token_model)
    sql, token_attnames, user_attnames = _token_sql(alias)
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, [timezone.now(), key])
        rows = cursor.fetchall()
    tokens, width = [], len(token_attnames)
    for row in rows:
        token = token_model.from_db(alias, token_attnames, row[:width])
        token.user = user_model.from_db(alias, user_attnames, row[width:-2])
        remember_memberships(token.user, row[-2])
        tokens.append(token)
    return tokens, any(row[-1] for row in rows)


class TokenAuthentication(auth.TokenAuthentication):  # type: ignore[misc]
    def authenticate_credentials(self, token: bytes) -> _Answer:
        if knox_settings.AUTO_REFRESH:
            return cast(_Answer, super().authenticate_credentials(token))
        text = token.decode("utf-8")
        candidates, expired = _candidates(text[: CONSTANTS.TOKEN_KEY_LENGTH])
        if expired:  # knox deletes them and tells the token_expired receivers
            return cast(_Answer, super().authenticate_credentials(token))
        refused = exceptions.AuthenticationFailed(_("Invalid token."))
        try:
            digest = hash_token(text) if candidates else ""
        except (TypeError, binascii.Error):
            raise refused from None
        for candidate in candidates:
            if compare_digest(digest, candidate.digest):
                return cast(_Answer, self.validate_user(candidate))
        raise refused


class TokenScheme(KnoxTokenScheme):  # type: ignore[no-untyped-call]
    """The OpenAPI security scheme of knox's tokens, for this class too."""

    target_class = "organizations.authentication.TokenAuthentication"
