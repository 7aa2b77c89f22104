"""One way to answer a page or its fragment: htmx swaps get the fragment, the rest the page.

Catalog pages depend only on the language, the service, the category and today's date (the
catalog is frozen at start), so their HTML is rendered once per day and kept: the kiosk's most
frequent requests then cost a dictionary look-up instead of a template render.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from flask import Response, current_app, make_response, render_template

from kiosk.extensions import htmx
from kiosk.web.display import current_modes

MAX_CACHED = 4096


class RenderCache:
    """A small LRU of rendered HTML, keyed by everything the page depends on."""

    def __init__(self, size: int = MAX_CACHED) -> None:
        self._items: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get_or_render(self, key: Hashable, render: Callable[[], str]) -> str:
        with self._lock:
            html = self._items.get(key)
            if html is not None:
                self._items.move_to_end(key)
                return html
        html = render()
        with self._lock:
            self._items[key] = html
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        return html


def render_page_or_partial(page: str, partial: str, cache_key: Hashable | None = None, **context: Any) -> Response:
    """Render the fragment for an htmx swap, the whole page otherwise; caches must tell them apart."""
    template = partial if htmx else page
    if cache_key is None:
        html = render_template(template, **context)
    else:
        cache: RenderCache = current_app.extensions.setdefault("kiosk.render_cache", RenderCache())
        key = (template, cache_key, current_modes())  # the display modes are classes and toggles on the page
        html = cache.get_or_render(key, lambda: render_template(template, **context))
    response = make_response(html)
    response.vary.add("HX-Request")
    return response
