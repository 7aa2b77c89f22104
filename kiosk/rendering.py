"""One way to answer a page or its fragment: htmx swaps get the fragment, the rest the page."""

from __future__ import annotations

from typing import Any

from flask import Response, make_response, render_template

from kiosk.extensions import htmx


def render_page_or_partial(page: str, partial: str, **context: Any) -> Response:
    """Render the fragment for an htmx swap, the whole page otherwise; caches must tell them apart."""
    wants_fragment = bool(htmx) and not htmx.boosted
    response = make_response(render_template(partial if wants_fragment else page, **context))
    response.vary.add("HX-Request")
    return response
