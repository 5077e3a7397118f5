"""Give the application's database role its privileges (reliability.md §H4).

Run by the owner of the tables (the role that migrates) after every ``migrate``;
the web tier and the worker then connect as ROLE, which reads and writes the
tables but may only add to the audit tables::

    manage.py grant_app_role intercalaire_app
    APP_DATABASE_PASSWORD=… manage.py grant_app_role intercalaire_app --create

``--create`` creates the role (LOGIN, the password from APP_DATABASE_PASSWORD)
when it does not exist, or sets that password when it does (hashed before it is
sent). See config/database/privileges.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.database.privileges import RoleError, grant_app_role

PASSWORD_VARIABLE = "APP_DATABASE_PASSWORD"  # noqa: S105  (a variable's name)


class Command(BaseCommand):
    help = (
        "Grant the application's database role its privileges: every table, "
        "but no UPDATE, DELETE or TRUNCATE on the audit tables."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help="The role the web tier and worker use.")
        parser.add_argument(
            "--create",
            action="store_true",
            help=f"Create the role, or set its password, from {PASSWORD_VARIABLE}.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = None
        if options["create"]:
            password = os.environ.get(PASSWORD_VARIABLE)
            if not password:
                raise CommandError(f"--create: set {PASSWORD_VARIABLE}.")
        try:
            grants = grant_app_role(options["role"], password=password)
        except RoleError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(dataclasses.asdict(grants)))
