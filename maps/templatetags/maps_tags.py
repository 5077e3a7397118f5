"""Place a rendered map's components in a page, with the request's CSP nonce on
every inline <script> and <style> (folium writes both; the policy refuses inline
code and styles without it)."""

from __future__ import annotations

import re
from typing import Any

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from maps.render import RenderedMap

register = template.Library()

_OPENING = re.compile(r"<(script|style)(?=[\s>])", re.IGNORECASE)


def _nonce(context: template.Context) -> str:
    request: Any = context.get("request")
    nonce = getattr(request, "csp_nonce", None)
    # django-csp's nonce is lazy and falsy until read: read it first.
    return escape(str(nonce)) if nonce is not None else ""


def with_nonce(markup: str, nonce: str) -> str:
    """``markup`` with ``nonce`` on each <script> and <style> element."""
    if not nonce:
        return markup
    return _OPENING.sub(lambda match: f'<{match[1]} nonce="{nonce}"', markup)


@register.simple_tag(takes_context=True)
def map_header(context: template.Context, rendered: RenderedMap) -> SafeString:
    # folium's markup, built from our own spec and escaped by its templates.
    return mark_safe(with_nonce(rendered.header, _nonce(context)))


@register.simple_tag
def map_html(rendered: RenderedMap) -> SafeString:
    return mark_safe(rendered.html)


@register.simple_tag(takes_context=True)
def map_script(context: template.Context, rendered: RenderedMap) -> SafeString:
    nonce = _nonce(context)
    attribute = f' nonce="{nonce}"' if nonce else ""
    # "</" cannot occur in the script: data and options are escaped by render.py.
    return mark_safe(f"<script{attribute}>{rendered.script}</script>")
