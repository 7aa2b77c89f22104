"""What a parent typed on a form the server refused, kept for reload and Back.

A page answering a form with its mistakes takes its own address (static/js/kiosk.js), so reload
and Back fetch it with GET, and a GET knows only the visit: what was typed must be in the visit
to come back. It is kept in the sealed server-side visit, which Finish and the idle reset wipe,
and only until the form is sent right; it is never an accepted answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask import session
from werkzeug.datastructures import MultiDict

MAX = 300  # longer than any field takes: a refused answer is kept to be corrected, not stored whole
KEY = "typed"  # the visit's {page: {field: text}} for the pages outside the application's draft


def values(formdata: Mapping[str, object], names: Iterable[str]) -> dict[str, str]:
    """The text typed in each of ``names`` (the empty ones left out), each cut to MAX."""
    out = {}
    for name in names:
        value = formdata.get(name)
        if isinstance(value, str) and value.strip():
            out[name] = value[:MAX]
    return out


def keep(page: str, formdata: Mapping[str, object], names: Iterable[str]) -> None:
    session[KEY] = {**session.get(KEY, {}), page: values(formdata, names)}


def kept(page: str) -> MultiDict[str, str] | None:
    """What ``page``'s form last refused, as form data to show again; None when nothing was."""
    typed = session.get(KEY, {}).get(page)
    return MultiDict(typed) if typed is not None else None


def forget(page: str) -> None:
    if page in session.get(KEY, {}):
        session[KEY] = {p: v for p, v in session[KEY].items() if p != page}
