"""The pages in a real browser: log in as each persona, nothing fetched from another
host, no console error, the DSFR script running under the content security policy."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from organizations.models import OrganizationKind
from tests.browser.conftest import Visit
from tests.buildings.factories import BuildingFactory
from tests.conftest import PASSWORD

# An anonymous visitor's pages need no row and write none: the live server's own
# connection reads the empty database. Logging in needs committed users and writes
# from the server's thread, so those tests are transactional (and flush).
pytestmark = [pytest.mark.browser, pytest.mark.django_db]

SPACES = {
    OrganizationKind.STATE_SERVICE: ("/espace/agent/", "Espace immobilier de l’État"),
    OrganizationKind.OPERATOR: ("/espace/operateur/", "Mes sites"),
    OrganizationKind.FUNDER: ("/espace/financeur/", "Tableau de bord des financements"),
}


def assert_clean(tab: Visit) -> None:
    assert tab.foreign_requests == []
    assert tab.console == []


def test_the_anonymous_home_renders_in_french_with_the_dsfr_script_running(
    visit: Visit,
) -> None:
    visit.go("/")
    assert visit.page.locator("h1").inner_text().startswith("Bâtiments vacants")
    assert visit.page.locator('[data-testid="public-home"]').is_visible()
    visit.dsfr_started()
    visit.screenshot("home-anonymous")
    assert len(visit.requests) > 3
    assert_clean(visit)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", list(SPACES), ids=lambda kind: str(kind))
def test_each_persona_logs_in_through_the_form_and_lands_in_its_space(
    visit: Visit, make_member: Callable[..., User], kind: OrganizationKind
) -> None:
    user = make_member(kind)
    path, title = SPACES[kind]
    visit.go("/compte/connexion/")
    visit.page.fill("#id_username", user.username)
    visit.page.fill("#id_password", PASSWORD)
    visit.page.click("main button[type=submit]")
    visit.page.wait_for_url(re.compile(re.escape(path) + "$"))
    visit.dsfr_started()
    assert visit.page.locator('[data-testid="space-title"]').inner_text() == title
    # The header's tools are copied into the mobile menu: read the desktop ones.
    current_user = visit.page.locator('.fr-header__tools [data-testid="current-user"]')
    assert current_user.inner_text() == user.username
    visit.screenshot(f"space-{kind}")
    assert_clean(visit)


def test_the_language_switcher_turns_the_page_to_english(visit: Visit) -> None:
    visit.go("/")
    with visit.page.expect_navigation():
        visit.page.click(".fr-header__tools form.language-switcher button[value=en]")
    assert visit.page.locator("html").get_attribute("lang") == "en"
    assert visit.page.locator("h1").inner_text().startswith("Vacant State buildings")
    visit.dsfr_started()
    assert_clean(visit)


def test_the_api_documentation_renders_from_local_files_only(visit: Visit) -> None:
    visit.go("/api/docs/")
    visit.page.wait_for_selector(".swagger-ui .info .title")
    assert "Intercalaire API" in visit.page.locator(".swagger-ui .info").inner_text()
    visit.screenshot("api-docs")
    assert_clean(visit)


def test_on_a_phone_the_menu_button_opens_the_header_links(visit: Visit) -> None:
    """DSFR copies the header tools into the mobile menu, which must exist."""
    visit.page.set_viewport_size({"width": 375, "height": 800})
    visit.go("/")
    visit.dsfr_started()
    visit.page.click("#button-menu")
    login = visit.page.locator(
        "#header-menu .fr-header__menu-links a", has_text="Se connecter"
    )
    login.wait_for(state="visible")
    visit.screenshot("home-phone-menu")
    assert_clean(visit)


@pytest.mark.django_db(transaction=True)
def test_an_agent_exports_the_filtered_list_with_the_columns_left_ticked(
    visit: Visit, make_member: Callable[..., User]
) -> None:
    BuildingFactory.create(designation="Caserne du Muy", vacant=True)
    BuildingFactory.create(designation="Tri postal", vacant=True)
    agent = make_member(OrganizationKind.STATE_SERVICE, departments=["13"])
    visit.go("/compte/connexion/")
    visit.page.fill("#id_username", agent.username)
    visit.page.fill("#id_password", PASSWORD)
    visit.page.click("main button[type=submit]")
    visit.page.wait_for_url(re.compile("/espace/agent/$"))
    visit.go("/batiments/?q=caserne")
    visit.dsfr_started()
    chooser = visit.page.locator('[data-testid="export-columns"]')
    chooser.locator("summary").click()
    boxes = chooser.locator('input[type=checkbox][name="columns"]')
    # As a user does: the DSFR checkbox is drawn by its label, which takes the click.
    for value in [boxes.nth(i).get_attribute("value") for i in range(boxes.count())]:
        if value not in ("designation", "city"):
            chooser.locator(f'label[for="export-column-{value}"]').click()
    assert [
        boxes.nth(i).get_attribute("value")
        for i in range(boxes.count())
        if boxes.nth(i).is_checked()
    ] == ["designation", "city"]
    visit.screenshot("building-list-export-columns")
    with visit.page.expect_download() as download_info:
        chooser.get_by_role("button", name="Exporter en CSV").click()
    download = download_info.value
    assert re.fullmatch(r"batiments-\d{8}\.csv", download.suggested_filename)
    content = Path(download.path()).read_bytes().decode("utf-8-sig")
    header, *rows = content.splitlines()
    assert header == "id;designation;city;longitude;latitude"
    assert len(rows) == 1
    assert "Caserne du Muy;Marseille" in rows[0]
    assert_clean(visit)
