"""Logs for a real terminal: one JSON object per line, in UTC, with personal data masked.

journald (or any collector) keeps what `kiosk run` and `kiosk sync` write to standard error; a
JSON line per record keeps the fields apart without a parser of our own. The masking filter is
the last line of defence: the code already logs masked IINs, but a message built from a
request path, a central system's error text or a traceback may still carry an IIN, a phone
number or an SMS code, and none of those may reach a log (reliability notes, section 1).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

# An IIN (or a BIN, masked the same): a run of 12 digits (or more: an IIN glued to other digits is
# still one), or 12 digits in groups split by single spaces or hyphens ("880412 412349"). The
# grouped form must not start or end inside a longer grouped or already masked number (two
# fixed-width look-behinds: Python's cannot vary in width).
_IIN = re.compile(r"(?<!\d)\d{12,}(?!\d)")
_IIN_GROUPED = re.compile(r"(?<![\d*])(?<![\d*][ -])\d(?:[ -]?\d){11}(?![ -]?[\d*])")
# A phone: +7 and ten digits in any of the usual groupings ("+7 701 123 45 67", "+7(701)123-45-67"),
# or, without the +, an optional 7 or 8 and then an operator or area code starting with 7
# ("87011234567", "8 701 123 4567", "701 123 45 67").
_PHONE = re.compile(
    r"\+\s?7[\s(-]*(\d{3})[\s)-]*(\d{3})[\s-]*(\d{2})[\s-]*(\d{2})(?!\d)"
    r"|(?<![\d+])(?:[78][\s(-]*)?(7\d{2})[\s)-]*(\d{3})[\s-]*(\d{2})[\s-]*(\d{2})(?!\d)"
)
# A 6-digit code after a word that names it, in the kiosk's three languages ("code", "коды",
# "кодыңыз", "код", "OTP", "SMS", "PIN"), with up to 20 characters but no digit in between. No
# word boundaries: "sms_code=123456" is masked too, and a masked "barcode 123456" costs nothing.
_CODE = re.compile(r"(?i)((?:code|код|otp|sms|pin)[^\d\n]{0,20}?)(?<!\d)\d{6}(?!\d)")
# An extra whose name says it is a code: its 6-digit value is masked whole
_CODE_KEY = re.compile(r"(?i)code|otp|pin|код")

# LogRecord's own attributes; whatever else a record carries came in through ``extra=``
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _mask_iin(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return digits[:4] + "*" * (len(digits) - 6) + digits[-2:]


def _mask_phone(match: re.Match[str]) -> str:
    groups = [g for g in match.groups() if g is not None]
    return f"+7 {groups[0]} *** ** {groups[3]}"


def mask_personal(text: str) -> str:
    """Mask IINs, phone numbers and SMS codes in free text, so a log line can be kept and shown."""
    text = _CODE.sub(lambda m: m.group(1) + "******", text)
    text = _IIN.sub(_mask_iin, text)
    text = _IIN_GROUPED.sub(_mask_iin, text)
    return _PHONE.sub(_mask_phone, text)


def _mask_value(value: Any, key: str = "") -> Any:
    """Mask an ``extra`` value: strings as free text, containers item by item, numbers as digits."""
    if key and _CODE_KEY.search(key) and isinstance(value, str | int) and re.fullmatch(r"\s*\d{6}\s*", str(value)):
        return "******"
    if isinstance(value, str):
        return mask_personal(value)
    if isinstance(value, Mapping):
        return {k: _mask_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask_value(v, key) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        masked = mask_personal(str(value))  # an IIN or a phone number passed as a number
        return value if masked == str(value) else masked
    return value


class MaskingFilter(logging.Filter):
    """Rewrite each record's message and ``extra`` values with personal data masked.

    Put it on the handler, not on a logger: a logger's filters do not see records that
    propagate from its children.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_personal(record.getMessage())
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD:
                setattr(record, key, _mask_value(value, key))
        return True


def _utc(created: float) -> str:
    return dt.datetime.fromtimestamp(created, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, then the record's extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_personal(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = _mask_value(value, key)
        if record.exc_info:
            entry["exc"] = mask_personal(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = mask_personal(self.formatStack(record.stack_info))
        # json.dumps escapes newlines inside strings, so a record is always exactly one line
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The developer's format: readable, still in UTC and still masked."""

    converter = staticmethod(time.gmtime)

    def __init__(self) -> None:
        super().__init__("%(asctime)sZ %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%S")

    def formatException(self, ei: Any) -> str:  # logging's own name
        return mask_personal(super().formatException(ei))


FORMATS = ("text", "json")


def make_handler(fmt: str = "text", stream: TextIO | None = None) -> logging.Handler:
    """A stream handler with the masking filter and the chosen formatter ("text" or "json")."""
    if fmt not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(MaskingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.set_name("kiosk")
    return handler


# alembic.runtime.plugins: a line per plugin each time Alembic is first imported, which is now
# after logging is set up (kiosk.db imports it when it migrates)
QUIET_LOGGERS = ("httpx", "httpcore", "alembic.runtime.plugins")


def configure(fmt: str = "text", level: int | str = logging.INFO, stream: TextIO | None = None) -> logging.Handler:
    """Send every logger's records through one masked handler on the root logger.

    Called by `kiosk run` and `kiosk sync` (LOG_FORMAT); calling it again replaces the handler
    rather than adding a second one, so no line is written twice.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "kiosk"]:
        root.removeHandler(old)
    handler = make_handler(fmt, stream)
    root.addHandler(handler)
    root.setLevel(level)
    # one line per HTTP call to the central system (the changes feed is polled every second) would
    # drown what matters; the worker logs its own outcomes
    for chatty in QUIET_LOGGERS:
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
    return handler
