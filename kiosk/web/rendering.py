"""One way to answer a page or its fragment: htmx swaps get the fragment, the rest the page.

The visitor's pages without personal data (Welcome, the services, one service and its checklist)
depend only on the address, the language, the display modes and today's date (the catalog is
frozen at start), so their HTML is rendered once and kept, with its gzip form made once beside it
(kiosk/web/compression.py sends that to a browser that asks): the kiosk's most frequent requests then
cost a dictionary look-up instead of a template render and a compression.

The key always holds the whole address with its query (the page's toggles and language links
point back to it) and the display modes (classes and ``aria-pressed`` on the page), so two
visitors can share an entry only when they would have got the same bytes.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from flask import Response, current_app, make_response, render_template, request

from kiosk.extensions import htmx
from kiosk.web.display import current_modes

MAX_CACHED = 4096
GZIP_LEVEL = 6  # made once per entry; 9 saves under 1% more on these pages
CACHE_KEY = "kiosk.render_cache"


@dataclass
class CachedPage:
    """A rendered page: its bytes, and their gzip form made on the first request that accepts it."""

    body: bytes
    _gzipped: bytes | None = field(default=None, repr=False)

    def gzipped(self) -> bytes:
        if self._gzipped is None:  # two threads may both make it: the same bytes, no harm
            self._gzipped = gzip.compress(self.body, GZIP_LEVEL, mtime=0)
        return self._gzipped


class RenderCache:
    """A small LRU of rendered pages, keyed by everything the page depends on."""

    def __init__(self, size: int = MAX_CACHED) -> None:
        self._items: OrderedDict[Hashable, CachedPage] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get_or_render(self, key: Hashable, render: Callable[[], str]) -> CachedPage:
        with self._lock:
            page = self._items.get(key)
            if page is not None:
                self._items.move_to_end(key)
                return page
        page = CachedPage(render().encode())
        with self._lock:
            self._items[key] = page
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        return page

    def __len__(self) -> int:
        return len(self._items)


def wants_fragment() -> bool:
    return bool(htmx)


def render_page_or_partial(page: str, partial: str, **context: Any) -> Response:
    """Render the fragment for an htmx swap, the whole page otherwise; caches must tell them apart."""
    response = make_response(render_template(partial if wants_fragment() else page, **context))
    response.vary.add("HX-Request")
    return response


def cached_page_or_partial(
    page: str, partial: str, cache_key: Hashable, context: Callable[[], dict[str, Any]] = dict
) -> Response:
    """``render_page_or_partial`` through the render cache: ``context()`` is called on a miss only."""
    return cached_page(partial if wants_fragment() else page, cache_key, context)


def cached_page(template: str, cache_key: Hashable, context: Callable[[], dict[str, Any]] = dict) -> Response:
    """``template`` from the render cache, rendered on a miss: only for pages that hold nobody's data.

    ``cache_key``: what the page shows besides its address and display modes (the language, the
    catalog's version, the day).
    """
    cache: RenderCache = current_app.extensions[CACHE_KEY]
    key = (template, cache_key, current_modes(), request.full_path)
    page = cache.get_or_render(key, lambda: render_template(template, **context()))
    response = Response(page.body, headers=SHARED_HEADERS)
    response.cached_page = page  # type: ignore[attr-defined]  # kiosk/web/compression.py takes its gzip form
    return response


# what a cached page says of itself, built once: HTML, different for an htmx swap (the fragment) and
# for a browser that takes gzip (kiosk/web/compression.py)
SHARED_HEADERS = (("Content-Type", "text/html; charset=utf-8"), ("Vary", "HX-Request, Accept-Encoding"))


def init_app(app: Any) -> None:
    app.extensions[CACHE_KEY] = RenderCache()
