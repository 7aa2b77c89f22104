"""Errors as application/problem+json (RFC 9457): type, title, status, detail, always."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from flask import Response

MEDIA_TYPE = "application/problem+json"


def problem_body(status: int, title: str | None = None, detail: str | None = None, **extra: Any) -> dict[str, Any]:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    title = title or phrase
    slug = title.lower().replace(" ", "-")
    return {
        "type": f"urn:portal-sim:problem:{slug}",
        "title": title,
        "status": status,
        "detail": detail or title,
        **extra,
    }


def problem_bytes(status: int, title: str | None = None, detail: str | None = None) -> tuple[str, list, bytes]:
    """A problem for plain WSGI (the fault middleware answers before Flask does)."""
    body = json.dumps(problem_body(status, title, detail), ensure_ascii=False).encode()
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    headers = [("Content-Type", MEDIA_TYPE), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")]
    return f"{status} {phrase}", headers, body


def problem(
    status: int,
    title: str | None = None,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """A Flask response with a problem document."""
    body = json.dumps(problem_body(status, title, detail, **extra), ensure_ascii=False)
    response = Response(body, status=status, mimetype=MEDIA_TYPE, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response
