"""The application's own database role (reliability.md §H4: tamper resistance).

In production the web tier and the job worker connect as a role that owns nothing
(``manage.py grant_app_role``, run by the owner after every ``migrate``): it reads
and writes the tables, and may only add to the audit tables — every table an
``append_only`` Protect trigger guards (the pghistory events of occupancy and
finance, the log of reads of resident data) — never UPDATE, DELETE or TRUNCATE
them, and may not delete a history context. A trigger can be lifted by whoever
holds the connection (pgtrigger.ignore is a session variable); a privilege
cannot. The GDPR paths that must delete there call the functions of occupancy
migration 0006, which run as the owner and delete only a resident's history, the
contexts no event names and reads past the CNIL floor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pgtrigger
from django.db import connections, transaction
from psycopg import sql

APPEND_ONLY_TRIGGER = "append_only"
CONTEXT_TABLE = "pghistory_context"
# The functions of occupancy migration 0006, by signature.
GDPR_FUNCTIONS = (
    "intercalaire_forget_resident_history(bigint[])",
    "intercalaire_forget_contexts(uuid[])",
    "intercalaire_purge_resident_access(timestamptz)",
)
# Plain lower-case names: no quoting surprises in URLs, pg_hba.conf or psql.
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class RoleError(Exception):
    """The role cannot serve as the application's role."""


@dataclass(frozen=True)
class Grants:
    role: str
    created: bool
    schema: str
    tables: int
    append_only: tuple[str, ...]


def append_only_tables() -> tuple[str, ...]:
    """The tables an ``append_only`` Protect trigger guards."""
    return tuple(
        sorted(
            {
                model._meta.db_table
                for model, trigger in pgtrigger.registered()
                if trigger.name == APPEND_ONLY_TRIGGER
            }
        )
    )


def grant_app_role(
    role: str, *, password: str | None = None, using: str = "default"
) -> Grants:
    """Give ``role`` the application's privileges, in one transaction; with a
    ``password``, create the role (LOGIN) or set its password.

    Idempotent: run it after every migration, since new tables need their grants.
    """
    if not ROLE_NAME.fullmatch(role):
        raise RoleError(
            f"{role!r}: use lower-case letters, digits and underscores (63 at most)."
        )
    connection = connections[using]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        raw = connection.connection  # psycopg's, to quote names and literals
        cursor.execute(
            "SELECT current_user, current_schema(), current_database(), "
            "r.rolname IS NOT NULL, "
            "r.rolsuper OR r.rolcreaterole OR r.rolbypassrls, "
            "(SELECT count(*) FROM pg_tables WHERE tableowner = %s), "
            "r.rolname IS NOT NULL AND pg_has_role(r.oid, current_user, 'MEMBER') "
            "FROM (SELECT 1) AS one LEFT JOIN pg_roles AS r ON r.rolname = %s",
            [role, role],
        )
        current, schema, database, exists, powerful, owned, member = cursor.fetchone()
        if role == current or owned:
            raise RoleError(
                f"{role} owns the tables: the application's role must own nothing."
            )
        if powerful:
            raise RoleError(
                f"{role} is a superuser, or may create roles or bypass row security: "
                "no privilege restrains it."
            )
        if member:
            raise RoleError(
                f"{role} holds the rights of the tables' owner: the application's "
                "role must own nothing."
            )
        created = False
        if not exists and password is None:
            raise RoleError(f"No role {role}: create it, or give its password.")
        if password is not None:
            # Hashed here (SCRAM, as the server would): the password itself never
            # travels in a statement that the server's log could keep.
            secret = raw.pgconn.encrypt_password(
                password.encode(), role.encode(), b"scram-sha-256"
            ).decode()
            cursor.execute(
                sql.SQL("{} ROLE {} LOGIN PASSWORD {}")
                .format(
                    sql.SQL("ALTER" if exists else "CREATE"),
                    sql.Identifier(role),
                    sql.Literal(secret),
                )
                .as_string(raw)
            )
            created = not exists
        tables = append_only_tables()
        names = {
            "role": sql.Identifier(role),
            "schema": sql.Identifier(schema),
            "database": sql.Identifier(database),
            "append_only": sql.SQL(", ").join(map(sql.Identifier, tables)),
            "context": sql.Identifier(CONTEXT_TABLE),
            "functions": sql.SQL(", ").join(map(sql.SQL, GDPR_FUNCTIONS)),
        }
        for statement in (
            "GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {role}",
            "GRANT USAGE ON SCHEMA {schema} TO {role}",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} "
            "TO {role}",
            "REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA {schema} "
            "FROM {role}",
            "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
            "REVOKE UPDATE, DELETE ON {append_only} FROM {role}",
            "REVOKE DELETE ON {context} FROM {role}",
            "GRANT EXECUTE ON FUNCTION {functions} TO {role}",
        ):
            cursor.execute(sql.SQL(statement).format(**names).as_string(raw))
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", [schema])
        (count,) = cursor.fetchone()
    return Grants(
        role=role, created=created, schema=schema, tables=count, append_only=tables
    )
