"""Load the demo data of the Marseille story, idempotently (run by ``make run``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from buildings import demo as buildings_demo
from finance import demo as finance_demo
from occupancy import demo as occupancy_demo
from organizations import demo as organizations_demo


class Command(BaseCommand):
    help = "Load (or refresh) the demo organizations, accounts and data. Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            accounts = organizations_demo.load()
            buildings_demo.load()
            occupancy_demo.load()
            # Last: it attaches to the occupancy demo's agreement when there is one.
            finance_demo.load()
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self.stdout.write(f"Demo accounts (password: {settings.DEMO_PASSWORD}):")
        for account in accounts:
            where = f" — {account.organization}" if account.organization else ""
            self.stdout.write(f"  {account.username:<14} {account.persona}{where}")
