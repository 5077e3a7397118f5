"""Fixtures over the real public data of ../shared/data (data/SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from buildings.reference import ReferenceReport, load_reference_layers


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-data folder; tests that need it skip in a fresh clone."""
    path = Path(settings.BASE_DIR).parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(
            f"../shared/data is absent: {path} holds the real public data files "
            "these tests read (see data/SOURCES.md in the shared folder)"
        )
    return path


@pytest.fixture
def reference_13(db: None, shared_data: Path) -> ReferenceReport:
    """All regions and départements (with the 96 metropolitan boundaries), and the
    communes of the Bouches-du-Rhône from the official code list: the 119 communes
    with their IGN boundaries, plus Marseille's 16 arrondissements without one."""
    boundaries = shared_data / "boundaries"
    return load_reference_layers(
        department_files=[boundaries / "departements.geojson"],
        commune_files=[boundaries / "communes-13.geojson"],
        departments=["13"],
    )
