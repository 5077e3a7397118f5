"""Fixtures shared by the occupancy tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings

from tests.occupancy.factories import UserFactory


@pytest.fixture
def actor(db: None) -> User:
    """The user a service call is made by (recorded in status changes)."""
    return UserFactory.create(username="agent-ddfip-13")


@pytest.fixture
def media_root(settings: Settings, tmp_path: Path) -> Path:
    """Uploaded documents go to a temporary directory, never to var/media."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path
