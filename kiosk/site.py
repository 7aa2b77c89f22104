"""The running site's settings, for plain code that must not import Flask.

The domain and the clients hash with the site's key and read the time from the site's clock, but
they never touch Flask (the import contract in setup.cfg checks it). The app binds its config here
whenever one of its contexts is pushed (``kiosk.extensions.bind_site``); a script or a test that
has no app binds a mapping of its own with ``using``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_current: ContextVar[Mapping[str, Any] | None] = ContextVar("kiosk_site", default=None)


def settings() -> Mapping[str, Any]:
    """The bound site's settings (the app's config mapping, so later changes show)."""
    bound = _current.get()
    if bound is None:
        raise RuntimeError("no site is bound: push an app context, or use kiosk.site.using(...)")
    return bound


def bind(config: Mapping[str, Any] | None) -> None:
    """Make ``config`` the site of the current context (None unbinds)."""
    _current.set(config)


@contextmanager
def using(config: Mapping[str, Any]) -> Iterator[None]:
    """Bind ``config`` for the block, then put back what was bound before."""
    token = _current.set(config)
    try:
        yield
    finally:
        _current.reset(token)
