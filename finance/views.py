"""The finance dashboard pages, under /financement/.

Funders see their own commitments; State agents every commitment of their
territory's buildings. Other personas get a 404, anonymous visitors the login
page. Reads go through finance.selectors and finance.indicators; this module only
shapes what the template shows and writes the downloads.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from buildings.models import Building
from config.streams import primed
from finance import charts, exports
from finance.forms import DashboardFilterForm
from finance.indicators import Dashboard, SiteFigures, dashboard_get
from finance.selectors import (
    commitment_rows,
    filter_choices,
    filtered_commitments,
    filtered_disbursements,
)
from maps import layers
from maps.layers import (
    FRANCE_CENTER,
    FRANCE_ZOOM,
    MapSpec,
    PopupField,
    basemap,
    site_figures_layer,
    sources,
)
from maps.render import RenderedMap, render_map
from organizations.pages import persona_page
from organizations.selectors import Persona, Scope

PAGE_SIZE = 50
PERSONAS = (Persona.FUNDER, Persona.STATE_AGENT)


# Login for anonymous visitors, 404 but for funders and State agents.
finance_page = persona_page(lambda scope: scope.persona in PERSONAS)


def _form(request: HttpRequest, scope: Scope) -> DashboardFilterForm:
    return DashboardFilterForm(
        request.GET or None,
        choices=filter_choices(scope=scope),
        with_funder=scope.is_state_agent,
    )


def _funded_sites_map(sites: list[SiteFigures]) -> RenderedMap | None:
    """The funded sites on the map (maps.layers), with the money committed and
    paid on each: aggregates only, one point per building, never a person.

    The sites come from the dashboard, itself scoped to the caller's commitments,
    and are at most the layers' inline limit.
    """
    if not sites:
        return None
    figures = {
        site.building_id: {"committed": site.committed, "disbursed": site.disbursed}
        for site in sites
        if site.building_id is not None
    }
    layer = site_figures_layer(
        key="funded-sites",
        name=_("Funded sites"),
        buildings=Building.objects.filter(pk__in=list(figures)),
        figures=figures,
        popup_fields=(
            PopupField("city", _("City")),
            PopupField("committed", _("Committed"), "€"),
            PopupField("disbursed", _("Disbursed"), "€"),
        ),
    )
    latitudes = [site.latitude or 0.0 for site in sites]
    longitudes = [site.longitude or 0.0 for site in sites]
    margin = 0.05  # degrees: a single site still gets a readable frame
    spec = MapSpec(
        center=FRANCE_CENTER,
        zoom=FRANCE_ZOOM,
        layers=(layer,),
        bounds=(
            (min(latitudes) - margin, min(longitudes) - margin),
            (max(latitudes) + margin, max(longitudes) + margin),
        ),
        basemap=basemap(),
        attributions=(sources()["die"],),
    )
    return render_map(spec)


def _charts(dashboard: Dashboard) -> dict[str, Any]:
    progress = [
        charts.progress_chart(rows, chart_id=chart_id, title=title)
        for chart_id, title, rows in (
            ("by-funder", _("By funder"), dashboard.by_funder),
            ("by-nature", _("By nature"), dashboard.by_nature),
            ("by-year", _("By year (decisions / payments)"), dashboard.by_year),
            ("by-site", _("By site"), dashboard.by_site),
        )
        if rows
    ]
    committed, cash_only, paid, paid_cash = dashboard.cofunding
    shares = [
        charts.share_chart(variant, chart_id=chart_id, title=title)
        for chart_id, title, variant in (
            (
                "shares-committed",
                _("Shares of committed contributions, cash and valued in kind"),
                committed,
            ),
            ("shares-cash", _("Shares of committed cash only"), cash_only),
            (
                "shares-disbursed",
                _("Shares of disbursed contributions, cash and valued in kind"),
                paid,
            ),
            ("shares-disbursed-cash", _("Shares of disbursed cash only"), paid_cash),
        )
        if variant.shares
    ]
    located = [
        site
        for site in dashboard.sites
        if site.building_id is not None and site.longitude is not None
    ]
    # Beyond the inline limit the map would be megabytes of page: the table and
    # the sketch still show every site.
    too_many = len(located) > layers.INLINE_LIMIT
    return {
        "progress_charts": progress,
        "share_charts": shares,
        "site_map": charts.site_map(dashboard.sites),
        "funded_map": None if too_many else _funded_sites_map(located),
        "funded_map_note": (
            _(
                "The map is not drawn: it shows %(limit)s sites at most, and "
                "there are %(count)s. The table below lists every site."
            )
            % {"limit": layers.INLINE_LIMIT, "count": len(located)}
            if too_many
            else ""
        ),
    }


@finance_page
@require_safe
def dashboard_page(request: HttpRequest, scope: Scope) -> HttpResponse:
    form = _form(request, scope)
    if form.errors:
        # The errors in place and no figures: figures without one of the filters
        # asked for would pass for filtered ones.
        return render(
            request,
            "finance/dashboard.html",
            {"form": form, "dashboard": None},
            status=400,
        )
    filters = form.filters()
    dashboard = dashboard_get(scope=scope, filters=filters)
    page = Paginator(commitment_rows(scope=scope, filters=filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    filters_query = query.urlencode()
    return render(
        request,
        "finance/dashboard.html",
        {
            "form": form,
            "dashboard": dashboard,
            "page": page,
            "page_query": filters_query,
            "is_agent": scope.is_state_agent,
            "exports": [
                (
                    label,
                    reverse("finance:export", kwargs={"fmt": fmt})
                    + (f"?{filters_query}" if filters_query else ""),
                )
                for fmt, label in (("csv", "CSV"), ("xlsx", "XLSX"))
            ],
            **_charts(dashboard),
        },
    )


@finance_page
@require_safe
def export_page(request: HttpRequest, scope: Scope, fmt: str) -> HttpResponseBase:
    if fmt not in exports.FORMATS:
        raise Http404
    form = _form(request, scope)
    if form.errors:  # nothing exported rather than more than asked for
        return HttpResponseBadRequest(
            orjson.dumps({"errors": form.errors.get_json_data()}),
            content_type="application/json",
        )
    filters = form.filters()
    rows = commitment_rows(scope=scope, filters=filters)
    response: HttpResponseBase
    if fmt == "csv":
        response = StreamingHttpResponse(
            primed(exports.export_csv(rows), name=request.path),
            content_type=exports.FORMATS[fmt],
        )
    else:
        response = HttpResponse(
            exports.export_xlsx(
                rows=rows,
                disbursements=filtered_disbursements(
                    commitments=filtered_commitments(scope=scope, filters=filters),
                    filters=filters,
                ).order_by("date", "pk"),
                dashboard=dashboard_get(scope=scope, filters=filters),
            ),
            content_type=exports.FORMATS[fmt],
        )
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=exports.filename(fmt)
    )
    return response
