"""An application's school year and its canonical payload.

The answers become a canonical JSON payload whose hash is what the SMS code signs, and whose bytes
an ЭЦҚ signs, so either signs exactly this application and nothing else. (The forms that ask for the answers are
kiosk.web.application_forms.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from kiosk.domain.catalog import Service


def school_year(service: Service, today: dt.date) -> int:
    """The school year an application is for (2026 means 2026-2027).

    Grade 1 applications in spring and summer are for the year starting in September; every other
    service is for the school year under way (September to August).
    """
    if service.window is not None and service.window.start_month < 9 and today.month < 9:
        return today.year
    return today.year if today.month >= 9 else today.year - 1


def canonical_payload(
    *,
    service: Service,
    catalog_version: str,
    year: int,
    applicant: dict[str, Any],
    answers: dict[str, str],
    attachments: list[str],
    lang: str,
    consent: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], str]:
    """The payload and its hash: sorted keys, no spaces, UTF-8, so the same answers hash the same.

    The consent (kiosk/web/consent.py) is part of it: the signature covers the text the parent agreed to.
    """
    payload: dict[str, Any] = {
        "service": service.code,
        "catalog_version": catalog_version,
        "school_year": year,
        "applicant": applicant,
        "answers": answers,
        "attachments": sorted(attachments),
        "lang": lang,
    }
    if consent is not None:
        payload["consent"] = consent
    return payload, hashlib.sha256(canonical_bytes(payload)).hexdigest()


def canonical_bytes(payload: dict[str, Any]) -> bytes:
    """The one spelling of a payload: what its hash is over, what an ЭЦҚ signs (NCALayer and eGov
    Mobile get exactly these bytes) and what the central system finds inside that CMS."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
