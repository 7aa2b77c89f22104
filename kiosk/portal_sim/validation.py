"""Request checks as contract/openapi.yaml states them, written out so the simulator needs no
schema library at run time; tests/test_contract.py checks the two agree.

An application also has to name real people: an IIN must pass its checksum (the central system
would refuse one that does not), which the contract's pattern alone cannot say.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from kiosk.portal_sim.citizens import valid_iin

SERVICE = re.compile(r"[a-z0-9_]{1,32}")
DIGITS12 = re.compile(r"[0-9]{12}")
SHA256 = re.compile(r"[0-9a-f]{64}")
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DATE_TIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt](?P<h>[0-9]{2}):(?P<m>[0-9]{2}):(?P<s>[0-9]{2})(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-](?P<oh>[0-9]{2}):(?P<om>[0-9]{2}))"
)

APPLICATION_FIELDS = {
    "service",
    "school_year",
    "submitted_at",
    "applicant_iin",
    "child_iin",
    "identity",
    "lang",
    "answers",
    "attachments",
    "payload_hash",
}
APPLICATION_REQUIRED = APPLICATION_FIELDS - {"attachments"}


class BadJson(ValueError):
    """The body is not JSON at all (400, not 422: there are no fields to name)."""


def parse_json(body: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN or Infinity (which JSON does not have)."""

    def no_constants(name: str) -> Any:
        raise BadJson(f"{name} is not JSON")

    try:
        return json.loads(body.decode("utf-8"), parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadJson(str(exc)) from None


def canonical(value: Any) -> bytes:
    """One spelling of a JSON value: sorted keys, no spaces; what "the same body" compares."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def is_int(value: Any) -> bool:
    """A JSON integer (2026 or 2026.0), not a boolean."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def valid_date(text: Any) -> dt.date | None:
    if not isinstance(text, str) or not DATE.fullmatch(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def valid_date_time(text: str) -> bool:
    """RFC 3339 date-time (a leap second :60 allowed, as the RFC does)."""
    match = DATE_TIME.fullmatch(text)
    if not match or valid_date(match["date"]) is None:
        return False
    if match["oh"] is not None and (int(match["oh"]) > 23 or int(match["om"]) > 59):
        return False
    return int(match["h"]) <= 23 and int(match["m"]) <= 59 and int(match["s"]) <= 60


def application_errors(body: Any) -> list[dict[str, str]]:
    """The fields the central system rejects, each with why; empty when the application is fine."""
    if not isinstance(body, dict):
        return [{"field": "(body)", "message": "must be a JSON object"}]
    errors: list[dict[str, str]] = []

    def bad(field: str, message: str) -> None:
        errors.append({"field": field, "message": message})

    for name in sorted(APPLICATION_REQUIRED - body.keys()):
        bad(name, "is required")
    for name in sorted(set(body) - APPLICATION_FIELDS, key=str):
        bad(str(name), "is not a field of an application")

    if "service" in body and not (isinstance(body["service"], str) and SERVICE.fullmatch(body["service"])):
        bad("service", "must be 1-32 lowercase letters, digits or _")
    if "school_year" in body:
        year = body["school_year"]
        if not is_int(year) or not 2000 <= year <= 2100:
            bad("school_year", "must be a whole year from 2000 to 2100")
    if "submitted_at" in body and not (isinstance(body["submitted_at"], str) and valid_date_time(body["submitted_at"])):
        bad("submitted_at", "must be an RFC 3339 date-time")
    for name in ("applicant_iin", "child_iin"):
        if name in body:
            value = body[name]
            if not (isinstance(value, str) and DIGITS12.fullmatch(value)):
                bad(name, "must be 12 digits")
            elif not valid_iin(value):
                bad(name, "is not a valid IIN")
    if "identity" in body and body["identity"] not in ("sms", "in_person"):
        bad("identity", "must be sms or in_person")
    if "lang" in body and body["lang"] not in ("kk", "ru", "en"):
        bad("lang", "must be kk, ru or en")
    if "answers" in body:
        answers = body["answers"]
        if not isinstance(answers, dict):
            bad("answers", "must be an object")
        else:
            for key, value in answers.items():
                if not isinstance(value, str) or len(value) > 500:
                    bad(f"answers.{key}", "must be text of at most 500 characters")
    if "attachments" in body:
        attachments = body["attachments"]
        if not isinstance(attachments, list):
            bad("attachments", "must be a list")
        else:
            for i, item in enumerate(attachments):
                if not (isinstance(item, str) and SHA256.fullmatch(item)):
                    bad(f"attachments[{i}]", "must be a SHA-256 in lowercase hex")
    if "payload_hash" in body and not (
        isinstance(body["payload_hash"], str) and SHA256.fullmatch(body["payload_hash"])
    ):
        bad("payload_hash", "must be a SHA-256 in lowercase hex")
    return errors


def sms_error(body: Any) -> str | None:
    """Why an SMS request is malformed (400), or None."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    extra = set(body) - {"iin", "text"}
    if extra:
        return f"unknown fields: {', '.join(sorted(map(str, extra)))}"
    if not (isinstance(body.get("iin"), str) and DIGITS12.fullmatch(body["iin"])):
        return "iin must be 12 digits"
    if not (isinstance(body.get("text"), str) and 1 <= len(body["text"]) <= 480):
        return "text must be 1-480 characters"
    return None
