"""Headers and limits every response carries: a shared terminal must not keep, frame or leak pages.

- Content-Security-Policy without inline script: htmx and kiosk.js are files from this origin, so
  an injected ``<script>`` or ``onclick`` runs nowhere; ``frame-ancestors 'none'`` stops framing.
  The page may connect to its own origin and, with ЭЦҚ offered, to NCALayer on the terminal only.
- ``Cache-Control: no-store`` on every HTML page: any of them may hold a visitor's data, and a
  page restored from the cache after a reset would show it to the next parent.
- HSTS when the request came over TLS (behind the site's proxy: ``TRUSTED_PROXIES`` hops).
- ``Clear-Site-Data`` when a visit ends (Finish, the idle reset), so the browser forgets it too.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


# built once: every response carries the first two, every HTML page all of them (the rest govern a
# document, and a stylesheet's or script's answer is none: on those they would be bytes for nothing)
EVERY_RESPONSE = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
)
EVERY_PAGE = (
    *EVERY_RESPONSE,
    ("Permissions-Policy", "camera=(self), microphone=(), geolocation=(), payment=(), usb=()"),
    ("X-Frame-Options", "DENY"),
)
HSTS = "max-age=31536000; includeSubDomains"


def csp() -> str:
    """The policy; with ЭЦҚ offered, ``connect-src`` also names the terminal's NCALayer (its exact
    address, ``NCALAYER_URL``) and nothing else."""
    from kiosk.web import ecp as ecp_web

    if current_app.extensions.get("kiosk.ecp") is None or not ecp_web.enabled():
        return CSP
    return CSP.replace("connect-src 'self'", f"connect-src 'self' {current_app.config['NCALAYER_URL']}")


def init_app(app: Flask) -> None:
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops:  # X-Forwarded-For/-Proto/-Host from the site's proxy, and only from it
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    app.after_request(_headers)


def _headers(response: Response) -> Response:
    headers = response.headers
    present = {name.lower() for name in headers.keys()}  # one pass over a few headers, not one per header added
    page = headers.get("Content-Type", "").startswith("text/html")
    for name, value in EVERY_PAGE if page else EVERY_RESPONSE:
        if name.lower() not in present:  # a view's own value stands (the names are short: lower() is cheap)
            headers.add(name, value)
    if page:
        headers.setdefault("Content-Security-Policy", csp())
        headers["Cache-Control"] = "no-store"
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    if g.get("visit_wiped"):
        headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    return response
