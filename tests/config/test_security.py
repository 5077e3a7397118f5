"""Default deny, security headers, error pages that leak nothing, one error shape."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, path, resolve
from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.test import APIClient
from rest_framework.views import APIView

from config import urls as project_urls
from config.api import CONSTRAINT_ERRORS
from config.errors import Conflict, DomainError, InvalidTransition
from config.permissions import DenyAll
from organizations.models import LegalForm, Organization, OrganizationKind
from tests.conftest import PASSWORD

# Views anyone may call, each with the reason. Everything else must declare
# permissions that are neither AllowAny nor the silent DenyAll default.
PUBLIC_VIEWS = {
    "organizations.api.views.TokenObtainView": "exchanges a password for a token",
    "drf_spectacular.views.SpectacularAPIView": "the OpenAPI schema is public",
    "config.views.ApiDocsView": "the API docs are public",
}
# Views anyone may read (GET, HEAD, OPTIONS) but only some may write.
PUBLIC_READ_VIEWS = {
    "buildings.api.views.BuildingViewSet": "the open-data inventory, scoped",
    "buildings.api.views.BuildingExportView": "open-data exports, scoped",
    # OGC API – Features over the public stock: the same for every caller, read-only.
    "buildings.ogc.views.LandingView": "OGC API landing page",
    "buildings.ogc.views.ConformanceView": "OGC API conformance classes",
    "buildings.ogc.views.ApiDefinitionView": "OGC API definition (OpenAPI)",
    "buildings.ogc.views.CollectionsView": "OGC API collections",
    "buildings.ogc.views.CollectionView": "OGC API collection metadata",
    "buildings.ogc.views.ItemsView": "OGC API features of the public stock",
    "buildings.ogc.views.FeatureView": "OGC API one public feature",
    "buildings.ogc.views.QueryablesView": "OGC API queryables",
    "buildings.ogc.views.FrichesExportView": "CNIG Friches export of the public stock",
}
# DRF views that keep the deny-all default on purpose.
DENY_ALL_VIEWS = {
    "rest_framework.routers.APIRootView": "the router index lists nothing to anyone",
}
SAFE = ("get", "head", "options")
UNSAFE = ("post", "put", "patch", "delete")


def dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def drf_routes() -> Iterator[tuple[str, type[APIView]]]:
    """Every (route, view class) of the URLconf whose view is a DRF view."""

    def walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern

    for route, pattern in walk(get_resolver().url_patterns, ""):
        cls = getattr(pattern.callback, "cls", None)
        if isinstance(cls, type) and issubclass(cls, APIView):
            yield route, cls


def sample_url(route: str) -> str | None:
    """A URL the route matches (None for format-suffix variants): a group of
    literal alternatives gives its first one, any other group or converter "1"."""
    if re.search(r"<(?:drf_format_suffix:)?format>", route):
        return None

    def group(match: re.Match[str]) -> str:
        body = match.group(1)
        return body.split("|")[0] if re.fullmatch(r"[\w|]+", body) else "1"

    url = re.sub(r"\(\?P<\w+>([^)]*)\)", group, route)
    url = re.sub(r"<(?:\w+:)?\w+>", "1", url)
    url = url.replace("^", "").replace("$", "").replace("\\.", ".")
    assert not re.search(r"[\\()\[\]*+?]", url), f"cannot build a URL from {route}"
    return "/" + url


def test_the_walk_finds_the_api_views_and_builds_urls_that_reach_them() -> None:
    """Guards the tests below against a walk that silently misses views."""
    found = {dotted(cls) for _, cls in drf_routes()}
    assert {
        "organizations.api.views.TokenObtainView",
        "organizations.api.views.MeView",
        "organizations.api.views.OrganizationViewSet",
    } <= found
    for route, cls in drf_routes():
        url = sample_url(route)
        if url:
            assert getattr(resolve(url).func, "cls", None) is cls, route


def test_every_api_view_declares_its_permissions_and_only_allow_listed_ones_are_public() -> (  # noqa: E501
    None
):
    problems = []
    for route, cls in drf_routes():
        name = dotted(cls)
        classes = list(cls.permission_classes)
        public = permissions.AllowAny in classes
        if name in PUBLIC_VIEWS:
            if not public:
                problems.append(f"{route}: {name} is allow-listed but not AllowAny")
        elif name in DENY_ALL_VIEWS:
            if classes != [DenyAll]:
                problems.append(f"{route}: {name} was expected to deny all")
        elif public:
            problems.append(f"{route}: {name} is AllowAny without an allow-list entry")
        elif not classes or classes == [DenyAll]:
            problems.append(f"{route}: {name} declares no permission_classes")
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
def test_anonymous_callers_are_refused_everywhere_but_the_allow_list() -> None:
    """401/403 on every method of every route, except the public views and the
    reads of the public-read views (whose writes are refused all the same: 405
    where the resource serves no such method, as its Allow header says)."""
    client = APIClient()
    refused: dict[str, int] = {}
    reads: dict[str, dict[str, int]] = {name: {} for name in PUBLIC_READ_VIEWS}
    for route, cls in drf_routes():
        url = sample_url(route)
        name = dotted(cls)
        if url is None or name in PUBLIC_VIEWS:
            continue
        for method in SAFE + UNSAFE:
            response = getattr(client, method)(url)
            code = response.status_code
            allowed = {m.strip() for m in response.get("Allow", "").split(",")}
            if code == 405 and method.upper() not in allowed:
                code = 403  # refused as a method the resource does not serve
            if name in PUBLIC_READ_VIEWS and method in SAFE:
                reads[name][f"{method.upper()} {url}"] = code
            else:
                refused[f"{method.upper()} {url}"] = code
    assert len(refused) >= 7 * 4
    assert {
        call: code for call, code in refused.items() if code not in (401, 403)
    } == {}
    for name, codes in reads.items():
        assert not [code for code in codes.values() if code >= 500], codes
        # Still public? Else its allow-list entry should go.
        assert [code for code in codes.values() if code not in (401, 403)], name


# --- Headers


HTML_PAGES = ["/", "/compte/connexion/", "/api/docs/", "/admin/login/", "/nope/"]
OTHER_RESPONSES = ["/healthz", "/api/v1/me/", "/api/schema/", "/api/v1/auth/token/"]


def csp_directives(response: HttpResponseBase) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.mark.django_db
@pytest.mark.parametrize("url", HTML_PAGES + OTHER_RESPONSES)
def test_every_response_carries_the_security_headers(client: Client, url: str) -> None:
    response = client.get(url, HTTP_X_REQUEST_ID="sweep-0123456789")
    assert response.status_code in (200, 401, 404, 405)
    directives = csp_directives(response)
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Request-ID"] == "sweep-0123456789"


@pytest.mark.django_db
def test_html_pages_load_their_scripts_with_the_nonce_of_the_policy(
    client: Client,
) -> None:
    response = client.get("/")
    html = response.content.decode()
    nonces = {f"'nonce-{n}'" for n in re.findall(r'nonce="([^"]+)"', html)}
    assert len(nonces) == 1
    assert html.count("nonce=") == html.count("<script")
    assert nonces <= set(csp_directives(response)["script-src"])


def test_static_files_are_served_with_nosniff_and_a_referrer_policy(
    client: Client,
) -> None:
    response = client.get("/static/css/intercalaire.css")
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_a_request_id_is_generated_when_absent_or_malformed(client: Client) -> None:
    generated = client.get("/healthz")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    for bad in ("short", "has spaces in it", "x" * 65, "<script>alert(1)</script>"):
        echoed = client.get("/healthz", HTTP_X_REQUEST_ID=bad)["X-Request-ID"]
        assert echoed != bad
        assert re.fullmatch(r"[0-9a-f]{32}", echoed)


@pytest.mark.django_db
@override_settings(
    SECURE_HSTS_SECONDS=31_536_000,
    SECURE_HSTS_INCLUDE_SUBDOMAINS=True,
    SECURE_HSTS_PRELOAD=True,
    SESSION_COOKIE_SECURE=True,
    CSRF_COOKIE_SECURE=True,
)
def test_with_production_values_https_responses_carry_hsts_and_secure_cookies(
    make_member: Callable[..., User],
) -> None:
    """The values are those test_settings reads from the production settings."""
    client = Client()
    login_page = client.get("/compte/connexion/", secure=True)
    assert (
        login_page["Strict-Transport-Security"]
        == "max-age=31536000; includeSubDomains; preload"
    )
    csrf = login_page.cookies[settings.CSRF_COOKIE_NAME]
    assert csrf["secure"]
    assert csrf["samesite"] == "Lax"
    user = make_member(OrganizationKind.OPERATOR)
    response = client.post(
        "/compte/connexion/",
        {"username": user.username, "password": PASSWORD},
        secure=True,
    )
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["secure"]
    assert session["httponly"]
    assert session["samesite"] == "Lax"


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True)
def test_with_the_https_redirect_on_only_the_health_check_answers_plain_http() -> None:
    """Compose and load balancers call /healthz over HTTP from inside."""
    client = Client()
    response = client.get("/compte/connexion/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/compte/connexion/"
    assert client.get("/healthz").status_code == 200


# --- Errors: a test-only URLconf with views that fail on purpose

SECRET_MESSAGE = "password=hunter2 in /srv/intercalaire/config/settings.py"


def explode(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(SECRET_MESSAGE)


def fail(error: str) -> None:
    """Each way a view can fail: domain rules, real database refusals, a crash."""
    if error == "domain":
        raise DomainError("Surface must be positive.", field="surface")
    if error == "conflict":
        raise Conflict("Already signed.")
    if error == "transition":
        raise InvalidTransition("Cannot go from vacant to occupied.", field="status")
    if error == "integrity":
        Organization.objects.create(
            name="Bad",
            kind=OrganizationKind.OPERATOR,
            legal_form=LegalForm.COMPANY,
            rna="W133000000",
        )
    if error == "data":
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")
    if error == "django-validation":
        Organization(
            name="Bad", kind=OrganizationKind.OPERATOR, siret="123"
        ).full_clean()
    raise RuntimeError(SECRET_MESSAGE)


class FailingView(APIView):
    permission_classes = [permissions.AllowAny]

    def post(self, request: Request, error: str) -> Response:
        fail(error)
        return Response({"unreachable": True})


urlpatterns = [
    path("test-only/boom/", explode),
    path("test-only/api/<slug:error>/", FailingView.as_view()),
    *project_urls.urlpatterns,
]
handler500 = project_urls.handler500


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize("url", ["/test-only/boom/", "/test-only/api/crash/"])
def test_a_crash_answers_500_with_the_request_id_and_nothing_else(url: str) -> None:
    client = Client(raise_request_exception=False)
    response = client.post(url, HTTP_X_REQUEST_ID="crash-report-42")
    assert response.status_code == 500
    body = response.content.decode()
    assert "crash-report-42" in body
    assert response["X-Request-ID"] == "crash-report-42"
    for leak in (
        "Traceback",
        "RuntimeError",
        "hunter2",
        'File "',
        "SELECT",
        settings.SECRET_KEY,
        str(settings.BASE_DIR),
        str(settings.DATABASES["default"]["NAME"]),
    ):
        assert leak not in body, leak


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (
            "domain",
            400,
            {
                "code": "invalid",
                "detail": "Surface must be positive.",
                "errors": {"surface": ["Surface must be positive."]},
            },
        ),
        ("conflict", 409, {"code": "conflict", "detail": "Already signed."}),
        (
            "transition",
            409,
            {
                "code": "invalid_transition",
                "detail": "Cannot go from vacant to occupied.",
                "errors": {"status": ["Cannot go from vacant to occupied."]},
            },
        ),
        (
            "integrity",
            409,
            {
                "code": "conflict",
                "detail": "This change conflicts with existing data.",
                "errors": {
                    "non_field_errors": ["This change conflicts with existing data."]
                },
            },
        ),
        (
            "data",
            400,
            {"code": "invalid", "detail": "A value is out of range or malformed."},
        ),
    ],
)
def test_domain_and_database_errors_become_4xx_with_a_machine_readable_code(
    error: str, status: int, body: dict[str, Any]
) -> None:
    response = APIClient().post(f"/test-only/api/{error}/")
    assert response.status_code == status
    assert response.json() == body


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_a_registered_constraint_names_its_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        CONSTRAINT_ERRORS,
        "organization_rna_only_for_associations",
        ("rna", "Only associations have an RNA number."),
    )
    response = APIClient().post("/test-only/api/integrity/")
    assert response.status_code == 409
    assert response.json()["errors"] == {
        "rna": ["Only associations have an RNA number."]
    }


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_a_django_validation_error_keeps_its_fields() -> None:
    response = APIClient().post("/test-only/api/django-validation/")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "siret" in body["errors"]
    assert any("SIRET" in message for message in body["errors"]["siret"])


@pytest.mark.django_db
def test_drf_validation_errors_come_back_with_code_detail_and_field_errors(
    api_client: APIClient,
) -> None:
    response = api_client.post("/api/v1/auth/token/", {"username": "x" * 151})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"] == "Invalid input."
    assert set(body["errors"]) == {"username", "password"}
    assert all(isinstance(messages, list) for messages in body["errors"].values())


@pytest.mark.django_db
def test_a_malformed_json_body_is_a_400_with_a_code(api_client: APIClient) -> None:
    response = api_client.post(
        "/api/v1/auth/token/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    ["/api/v1/auth/token/", "/api/v1/finance/commitments/", "/api/v1/agreements/"],
)
def test_a_json_body_nested_past_the_recursion_limit_is_a_400(
    api_client: APIClient, agent: User, url: str
) -> None:
    """2 KB of nested brackets raised RecursionError in the parser: a 500 on every
    JSON endpoint (the finance views declare their parsers themselves)."""
    api_client.force_authenticate(agent)
    body = '{"username": ' + "[" * 5000 + "]" * 5000 + "}"
    response = api_client.post(url, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["abc", "0", "-1", "1.5", "²"])
def test_a_malformed_page_number_is_a_400_on_page(
    api_client: APIClient, agent: User, page: str
) -> None:
    api_client.force_authenticate(agent)
    response = api_client.get("/api/v1/organizations/", {"page": page})
    assert response.status_code == 400
    assert "page" in response.json()["errors"]
    assert api_client.get("/api/v1/organizations/", {"page": "1"}).status_code == 200
    assert api_client.get("/api/v1/organizations/", {"page": "last"}).status_code == 200
    assert api_client.get("/api/v1/organizations/", {"page": "99"}).status_code == 404


@pytest.mark.django_db
def test_options_requests_list_no_metadata_or_related_choices(
    api_client: APIClient, make_member: Callable[..., User]
) -> None:
    """OPTIONS answers as its Allow header says it is served: 200 with that
    header and no body (it was a 405 listing OPTIONS among the allowed
    methods), never DRF's description of the fields and their choices."""
    api_client.force_authenticate(make_member(OrganizationKind.OPERATOR))
    for url in (
        "/api/v1/organizations/",
        "/api/v1/me/",
        "/api/v1/auth/token/",
        "/api/v1/buildings/",
    ):
        response = api_client.options(url)
        assert response.status_code == 200, url
        assert "OPTIONS" in {m.strip() for m in response["Allow"].split(",")}, url
        assert response.content == b""
        assert api_client.get(url).get("Allow") in (None, response["Allow"])
    assert settings.REST_FRAMEWORK["DEFAULT_METADATA_CLASS"] == (
        "config.metadata.AllowOnly"
    )


@pytest.mark.django_db
def test_a_spoofed_forwarded_for_header_does_not_escape_the_throttle(
    api_client: APIClient,
) -> None:
    """With no proxy configured, X-Forwarded-For is ignored: one client, one bucket."""
    rate = int(str(api_settings.DEFAULT_THROTTLE_RATES["token"]).split("/")[0])
    codes = [
        api_client.post(
            "/api/v1/auth/token/",
            {"username": f"nobody-{n}", "password": "x"},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        ).status_code
        for n in range(rate + 1)
    ]
    assert codes[-1] == 429


@pytest.mark.django_db
def test_a_refused_form_token_is_a_page_that_says_what_to_do() -> None:
    """A failed CSRF check showed Django's own page, unstyled, about cookies and
    referers (found by a review): the user is told to reload and send again."""
    response = Client(enforce_csrf_checks=True).post(
        "/compte/connexion/", {"username": "agent", "password": "x"}
    )
    assert response.status_code == 403
    body = response.content.decode()
    assert "Formulaire expiré / Form expired" in body
    assert "Rien n’a été enregistré" in body
    assert "CSRF_COOKIE" not in body  # Django's help for developers


def test_a_request_the_server_cannot_read_is_a_bilingual_page() -> None:
    """Django's bare "Bad Request (400)" in English, e.g. for a Host header no
    setting allows."""
    response = Client().get("/", HTTP_HOST="attacker.example")
    assert response.status_code == 400
    assert "Requête incorrecte / Bad request" in response.content.decode()
