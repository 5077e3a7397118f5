"""Cartofriches: loading the real GeoPackage snapshot of 2024-03-10 into Friche."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from buildings.friches import is_state_owned, load_friches, parse_pg_array
from buildings.models import Friche

# Sites of the snapshot per département 13 (Bouches-du-Rhône), counted with GDAL.
SITES_13 = 332
STATE_OWNED_13 = 21
SITES_FRANCE = 23_878
# "ETAT FRANCAIS" (417 sites) or "EPF – ETABLISSEMENT PUBLIC FONCIER D ETAT" (715),
# some both; the 2 "ETAT ETRANGER" sites are a foreign State's.
STATE_OWNED_FRANCE = 1_121


@pytest.fixture
def gpkg(shared_data: Path) -> Path:
    return shared_data / "cartofriches" / "cartofriches_france_20240310.gpkg"


def friche_checksum() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT md5(string_agg(f::text, '|' ORDER BY f.site_id)) "
            "FROM buildings_friche f"
        )
        return str(cursor.fetchone()[0])


@pytest.mark.django_db
def test_the_bouches_du_rhone_has_332_sites_21_of_them_owned_by_the_state(
    gpkg: Path,
) -> None:
    report = load_friches(path=gpkg, departments=["13"])

    assert report.read == SITES_FRANCE
    assert (report.selected, report.created, report.updated) == (SITES_13, SITES_13, 0)
    assert Friche.objects.count() == SITES_13
    assert set(Friche.objects.values_list("dep", flat=True)) == {"13"}
    assert Friche.objects.filter(is_state_owned=True).count() == STATE_OWNED_13
    assert report.state_owned == STATE_OWNED_13


@pytest.mark.django_db
def test_a_site_keeps_its_parcels_surface_date_and_point(gpkg: Path) -> None:
    load_friches(path=gpkg, departments=["13"])

    site = Friche.objects.get(site_id="13055_2823")
    # "{132108550I0033,132108550I0034}" in the file: Marseille 10e's INSEE code
    # opens the parcel ids, as in every Paris/Lyon/Marseille parcel.
    assert site.l_idpar == ["132108550I0033", "132108550I0034"]
    assert site.site_surface == Decimal("2227.58")
    assert site.site_actu_date is not None
    assert site.comm_insee == "13055"
    assert site.proprio_type == "X1a"
    assert site.point.srid == 4326
    assert site.point.coords == pytest.approx((5.41435, 43.27961), abs=1e-5)
    # Every parcel list was split into 14-character IDUs.
    assert Friche.objects.filter(l_idpar__len__gt=1).exists()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT length(p) FROM buildings_friche, unnest(l_idpar) AS p"
        )
        assert cursor.fetchall() == [(14,)]


@pytest.mark.django_db
def test_a_second_load_writes_nothing(gpkg: Path) -> None:
    load_friches(path=gpkg, departments=["13"])
    checksum = friche_checksum()

    again = load_friches(path=gpkg, departments=["13"])

    assert (again.created, again.updated, again.unchanged) == (0, 0, SITES_13)
    assert Friche.objects.count() == SITES_13
    assert friche_checksum() == checksum


@pytest.mark.django_db
def test_a_changed_site_is_updated_in_place(gpkg: Path) -> None:
    load_friches(path=gpkg, departments=["13"])
    Friche.objects.filter(site_id="13055_2823").update(site_nom="Renamed by hand")

    again = load_friches(path=gpkg, departments=["13"])

    assert (again.created, again.updated) == (0, 1)
    assert Friche.objects.get(site_id="13055_2823").site_nom != "Renamed by hand"


@pytest.mark.django_db
def test_a_dry_run_reads_everything_and_saves_nothing(gpkg: Path) -> None:
    report = load_friches(path=gpkg, departments=["13"], dry_run=True)

    assert report.created == SITES_13
    assert not Friche.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db
def test_the_whole_file_loads_in_well_under_a_minute(gpkg: Path) -> None:
    report = load_friches(path=gpkg)

    assert report.created == SITES_FRANCE
    assert Friche.objects.count() == SITES_FRANCE
    assert Friche.objects.filter(is_state_owned=True).count() == STATE_OWNED_FRANCE
    assert set(
        Friche.objects.filter(dep__startswith="97").values_list("dep", flat=True)
    ) == {
        "971",
        "972",
        "973",
        "974",
        "976",
    }
    # About 12 s on the idle 2-core development machine, up to 50 s when other test
    # suites share its cores: the bound catches a per-row regression (many
    # minutes), not a busy machine.
    assert report.seconds < 90


@pytest.mark.django_db
def test_the_command_loads_one_department_and_says_so(gpkg: Path) -> None:
    out = StringIO()

    call_command("load_friches", str(gpkg), "--department", "13", stdout=out)

    assert f"{SITES_FRANCE} sites read, {SITES_13} selected" in out.getvalue()
    assert f"{STATE_OWNED_13} owned by the State" in out.getvalue()
    assert Friche.objects.count() == SITES_13


@pytest.mark.django_db
def test_the_command_dry_run_says_nothing_was_saved(gpkg: Path) -> None:
    out = StringIO()

    call_command(
        "load_friches", str(gpkg), "--department", "2A", "--dry-run", stdout=out
    )

    assert "would be created" in out.getvalue()
    assert "Dry run: nothing was saved." in out.getvalue()
    assert not Friche.objects.exists()


def test_the_command_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such file"):
        call_command("load_friches", str(tmp_path / "absent.gpkg"))


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("{31555841AH0133}", ["31555841AH0133"]),
        ("{36208000AB0105,36208000AB0732}", ["36208000AB0105", "36208000AB0732"]),
        (
            '{"ETAT FRANCAIS",INTERCOMMUNALITE,"VNF – VOIES NAVIGABLES DE FRANCE"}',
            ["ETAT FRANCAIS", "INTERCOMMUNALITE", "VNF – VOIES NAVIGABLES DE FRANCE"],
        ),
        ('{"A, with a comma","say \\"hi\\""}', ["A, with a comma", 'say "hi"']),
        ("{NULL,X1a}", ["X1a"]),
        ("{}", []),
        ("", []),
        (None, []),
    ],
)
def test_postgresql_array_literals_are_split_into_items(
    text: str | None, items: list[str]
) -> None:
    assert parse_pg_array(text) == items


@pytest.mark.parametrize(
    ("categories", "state_owned"),
    [
        ('{"ETAT FRANCAIS"}', True),
        ('{COMMUNE,"EPF – ETABLISSEMENT PUBLIC FONCIER D ETAT"}', True),
        ('{"ETAT ETRANGER"}', False),
        ('{"EPFL – ETABLISSEMENT PUBLIC FONCIER LOCAL"}', False),
        ('{"PERSONNE PHYSIQUE"}', False),
        (None, False),
    ],
)
def test_state_ownership_is_the_french_state_or_its_land_agencies(
    categories: str | None, state_owned: bool
) -> None:
    assert (
        is_state_owned(owner_categories=categories, owner_kinds="personne morale")
        is state_owned
    )
