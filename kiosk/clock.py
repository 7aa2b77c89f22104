"""The one clock of the app, so tests can move time (set ``CLOCK`` in the test mapping)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from flask import Flask, current_app

ALMATY = ZoneInfo("Asia/Almaty")


def utcnow(app: Flask | None = None) -> dt.datetime:
    """Now, in UTC: the app's ``CLOCK`` if it has one (the current app's, unless one is given)."""
    clock: Callable[[], dt.datetime] | None = (app or current_app).config.get("CLOCK")
    return clock() if clock else dt.datetime.now(dt.UTC)


def aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes for the UTC ones we stored: make them comparable again."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def local_today() -> dt.date:
    """Today as the school sees it: windows open and close by Asia/Almaty dates."""
    return utcnow().astimezone(ALMATY).date()
