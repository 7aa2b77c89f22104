"""HTML sent gzipped to a browser that accepts it: a catalog page is 10-20 KB as text, 2-4 KB gzipped.

A page from the render cache (kiosk/web/rendering.py) carries its gzip form, made once; any other page
is compressed here as it leaves. Nothing streamed (the staff's CSV export) and nothing already
encoded is touched, and a page too small to gain is sent as it is. Static files are precompressed
at start (kiosk/web/assets.py).

The pages hold a CSRF token but reflect nothing an attacker on the lobby's network could choose
request after request, which is what compression-length attacks on TLS (BREACH) need.
"""

from __future__ import annotations

import gzip

from flask import Flask, Response, request

MIN_SIZE = 512  # below it gzip's header and trailer eat what it saves
LEVEL = 6


def init_app(app: Flask) -> None:
    app.after_request(compress)


def compress(response: Response) -> Response:
    if not response.headers.get("Content-Type", "").startswith("text/html"):
        return response  # most answers stop at this one look-up
    if response.direct_passthrough or response.is_streamed or "Content-Encoding" in response.headers:
        return response
    cached = getattr(response, "cached_page", None)
    if cached is None:  # a cached page's headers say it already
        response.vary.add("Accept-Encoding")
    # the header parsed only when it names gzip at all (most of the benches' requests send none)
    if "gzip" not in request.environ.get("HTTP_ACCEPT_ENCODING", "") or not request.accept_encodings["gzip"]:
        return response
    if cached is not None:
        body = cached.gzipped()
    else:
        plain = response.get_data()
        if len(plain) < MIN_SIZE:
            return response
        body = gzip.compress(plain, LEVEL, mtime=0)
    response.set_data(body)  # sets Content-Length too
    response.headers["Content-Encoding"] = "gzip"
    return response
