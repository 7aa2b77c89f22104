"""The one clock of the app, so tests can move time (set ``CLOCK`` in the app's config)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from kiosk import site

ALMATY = ZoneInfo("Asia/Almaty")


def system_utcnow() -> dt.datetime:
    """The machine's clock, in UTC: what ``utcnow`` reads when no ``CLOCK`` is set (the simulator's too)."""
    return dt.datetime.now(dt.UTC)


def utcnow(config: Mapping[str, Any] | None = None) -> dt.datetime:
    """Now, in UTC: the site's ``CLOCK`` if it has one (the bound site's, unless one is given)."""
    if config is not None and not isinstance(config, Mapping):
        raise TypeError(f"utcnow takes the app's config, not {type(config).__name__}")  # app.get is a route
    clock: Callable[[], dt.datetime] | None = (config if config is not None else site.settings()).get("CLOCK")
    return clock() if clock else system_utcnow()


def aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes for the UTC ones we stored: make them comparable again."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def local_today() -> dt.date:
    """Today as the school sees it: windows open and close by Asia/Almaty dates."""
    return utcnow().astimezone(ALMATY).date()


def local_day_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """From the start of the Almaty day ``first`` to the start of the day after ``last``, in UTC.

    Staff pick days as the school lives them: an application made at 00:30 in Almaty belongs to
    that day, though it is the evening before in UTC. The bounds are UTC because the database
    holds UTC times (and SQLite would compare another zone's wall time as if it were UTC).
    """
    since = dt.datetime.combine(first, dt.time(), ALMATY).astimezone(dt.UTC)
    until = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), ALMATY).astimezone(dt.UTC)
    return since, until


def local_time(moment: dt.datetime) -> dt.datetime:
    """A stored UTC time as the Almaty wall clock read it."""
    return aware(moment).astimezone(ALMATY)
