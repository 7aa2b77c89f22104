"""The contract's endpoints under /api/v1, each request signed by a known kiosk.

One writer at a time (``Sim.write_lock``): waitress serves on several threads, and moving the
statuses on, storing an application and remembering a nonce must each see the writes before it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import secrets
import uuid
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Blueprint, Response, g, request, url_for
from sqlalchemy import delete, func, select, true
from sqlalchemy.exc import IntegrityError

from kiosk.clients.signing import HEADERS, MAX_SKEW, verify
from kiosk.portal_sim import citizens, rules, session, sim
from kiosk.portal_sim.models import Application, AppSignature, Change, Citizen, Nonce, SigningSession, Sms
from kiosk.portal_sim.problems import problem
from kiosk.portal_sim.validation import Checked, canonical, check, parse_json

bp = Blueprint("portal_sim_api", __name__, url_prefix="/api/v1")

NONCE_KEEP = dt.timedelta(seconds=2 * MAX_SKEW)


def json_response(data: Any, status: int = 200) -> Response:
    response = Response(json.dumps(data, ensure_ascii=False), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def signed_path() -> str:
    """The path with its query exactly as the client sent it (what it signed)."""
    raw = request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI")
    if raw:
        if "://" in raw.split("?", 1)[0]:  # absolute-form request target
            parts = urlsplit(raw)
            raw = parts.path + (f"?{parts.query}" if parts.query else "")
        return raw
    path = quote(request.environ.get("SCRIPT_NAME", "") + request.environ.get("PATH_INFO", ""), safe="/:@!$&'()*+,;=")
    query = request.environ.get("QUERY_STRING", "")
    return path + (f"?{query}" if query else "")


def unauthorized(reason: str) -> Response:
    return problem(401, "Unauthorized", reason)


@bp.before_request
def authenticate() -> Response | None:
    """Refuse unsigned, unknown, stale, forged and replayed requests; then move statuses on."""
    state = sim()
    headers = {name: request.headers[name] for name in HEADERS if name in request.headers}
    kiosk_id = headers.get("X-Kiosk-Id")
    if not kiosk_id:
        return unauthorized("unsigned")
    key = state.keys.get(kiosk_id)
    if key is None:
        return unauthorized("unknown kiosk")
    now = state.now()
    reason = verify(key, request.method, signed_path(), request.get_data(cache=True), headers, now.timestamp())
    if reason:
        return unauthorized(reason)
    with state.write_lock:
        s = session()
        s.execute(delete(Nonce).where(Nonce.seen_at < now - NONCE_KEEP))
        s.add(Nonce(kiosk_id=kiosk_id, nonce=headers["X-Nonce"], seen_at=now))
        try:
            s.commit()
        except IntegrityError:
            s.rollback()
            return unauthorized("replayed nonce")
        if rules.advance(s, now, state.step):
            s.commit()
    checked = check(request)
    if isinstance(checked, Response):
        return checked
    g.kiosk_id = kiosk_id
    g.checked = checked
    return None


def checked() -> Checked:
    """The request's parameters as the contract types them (``authenticate`` checked them)."""
    return g.checked


def body_json() -> Any:
    """The body, which ``authenticate`` found to be JSON that keeps to the contract."""
    return parse_json(request.get_data(cache=True))


@bp.get("/citizens/<path:iin>/phone")
def phone(iin: str) -> Response:
    number = citizens.phone_of(session(), iin)
    if number is None:
        return json_response({"registered": False})
    return json_response({"registered": True, "masked": citizens.masked(number)})


@bp.post("/sms")
def send_sms() -> Response:
    body = body_json()
    state = sim()
    with state.write_lock:
        s = session()
        number = citizens.phone_of(s, body["iin"])
        if number is None:
            return problem(404, "No phone", "no phone is registered for this IIN")
        if s.get(Citizen, body["iin"]) is None:
            s.add(Citizen(iin=body["iin"], phone=number, seeded=False))
        sms = Sms(
            public_id=uuid.uuid4().hex, iin=body["iin"], kiosk_id=g.kiosk_id, text=body["text"], sent_at=state.now()
        )
        s.add(sms)
        s.commit()
    return json_response({"id": sms.public_id}, 202)


@bp.post("/applications")
def submit() -> Response:
    key = str(checked().header["Idempotency-Key"]).lower()
    body = body_json()
    digest = hashlib.sha256(canonical(body)).hexdigest()

    state = sim()
    kiosk_id = g.kiosk_id
    with state.write_lock:
        s = session()
        now = state.now()
        if rules.advance(s, now, state.step):
            s.flush()
        existing = s.scalar(
            select(Application).where(Application.kiosk_id == kiosk_id, Application.idempotency_key == key)
        )
        if existing is not None:
            if existing.body_sha256 != digest:
                existing.conflicts += 1
                s.commit()
                return problem(409, "Conflict", "this Idempotency-Key was used with another body")
            existing.replays += 1
            s.commit()
            return json_response({"reference": existing.reference, "status": "accepted"}, 201)
        errors = state.ecp.check(body, now)
        if errors:  # the signature does not hold: resending the same will not help
            s.commit()
            return problem(422, "Unprocessable Content", "the signature does not verify", errors=errors)
        outcome, reason = rules.decide(s, kiosk_id, body, state.capacity)
        next_id = (s.scalar(select(func.max(Application.id))) or 0) + 1
        application = Application(
            id=next_id,
            kiosk_id=kiosk_id,
            idempotency_key=key,
            body_sha256=digest,
            reference=f"EDU-{now:%Y%m%d}-{next_id:06d}",
            service=body["service"],
            school_year=int(body["school_year"]),
            submitted_at=body["submitted_at"],
            applicant_iin=body["applicant_iin"],
            child_iin=body["child_iin"],
            identity=body["identity"],
            lang=body["lang"],
            answers=body["answers"],
            attachments=body.get("attachments", []),
            payload_hash=body["payload_hash"],
            received_at=now,
            status="accepted",
            outcome=outcome,
            reason_code=reason,
        )
        s.add(application)
        s.flush()  # the signature's row points at it
        signature = body["signature"]
        s.add(
            AppSignature(
                application_id=next_id,
                method=signature["method"],
                checked_by=signature.get("checked_by"),
                signer_serial=state.ecp.serial(body),
                cms=signature.get("cms"),
            )
        )
        s.add(Change(application=application, kiosk_id=kiosk_id, status="accepted", reason_code=None, at=now))
        s.commit()
    return json_response({"reference": application.reference, "status": "accepted"}, 201)


@bp.get("/applications/changes")
def changes() -> Response:
    after, limit = checked().query["after"], checked().query["limit"]
    rows = session().execute(
        select(Change, Application)
        .join(Application, Change.application_id == Application.id)
        .where(Change.kiosk_id == g.kiosk_id, Change.id > after)
        .order_by(Change.id)
        .limit(limit)
    )
    items = [
        {
            "cursor": change.id,
            "idempotency_key": application.idempotency_key,
            "reference": application.reference,
            "status": change.status,
            "reason": rules.REASONS[change.reason_code] if change.reason_code else None,
            "at": iso(change.at),
        }
        for change, application in rows
    ]
    return json_response({"changes": items, "next": items[-1]["cursor"] if items else after})


@bp.get("/applications")
def listing() -> Response:
    start, end = checked().query["from"], checked().query["to"]
    lower = dt.datetime.combine(start, dt.time(), dt.UTC)
    # both days included; an empty range (from after to) holds nothing, as the contract allows
    upper = dt.datetime.combine(end, dt.time(), dt.UTC) + dt.timedelta(days=1) if end < dt.date.max else None
    held = session().scalars(
        select(Application)
        .where(Application.kiosk_id == g.kiosk_id, Application.received_at >= lower)
        .where(Application.received_at < upper if upper else true())
        .order_by(Application.id)
    )
    return json_response(
        {
            "applications": [
                {
                    "idempotency_key": a.idempotency_key,
                    "reference": a.reference,
                    "service": a.service,
                    "status": a.status,
                    "received_at": iso(a.received_at),
                }
                for a in held
            ]
        }
    )


# --- eGov Mobile: signing sessions ---------------------------------------------------------------


def session_json(row: SigningSession, now: dt.datetime) -> dict[str, Any]:
    status = row.status
    if status == "waiting" and now >= row.expires_at:
        status = "expired"
    answer: dict[str, Any] = {
        "id": row.id,
        "status": status,
        "url": request.host_url.rstrip("/") + url_for("portal_sim_pages.sign_page", session_id=row.id),
        "expires_at": iso(row.expires_at),
    }
    if status == "signed" and row.cms:
        answer["cms"] = row.cms
    return answer


@bp.post("/signing-sessions")
def open_signing() -> Response:
    body = body_json()
    try:
        document = base64.b64decode(body["document"], validate=True)
    except (binascii.Error, ValueError):
        return problem(422, "Unprocessable Content", "the document is not base64", errors=[_doc("is not base64")])
    if hashlib.sha256(document).hexdigest() != body["payload_hash"]:
        return problem(
            422,
            "Unprocessable Content",
            "the document is not what payload_hash names",
            errors=[_doc("its SHA-256 is not payload_hash")],
        )
    state = sim()
    with state.write_lock:
        s = session()
        now = state.now()
        row = SigningSession(
            id=secrets.token_hex(16),
            kiosk_id=g.kiosk_id,
            applicant_iin=body["applicant_iin"],
            payload_hash=body["payload_hash"],
            document=body["document"],
            lang=body["lang"],
            status="waiting",
            cms=None,
            created_at=now,
            expires_at=now + state.sign_ttl,
        )
        s.add(row)
        s.commit()
    return json_response(session_json(row, now), 201)


def _doc(message: str) -> dict[str, str]:
    return {"field": "document", "message": message}


def _own_session(session_id: str) -> SigningSession | None:
    row = session().get(SigningSession, session_id)
    return row if row is not None and row.kiosk_id == g.kiosk_id else None


# the contract names the path parameter "id", and openapi-core reads it from Flask's view arguments
@bp.get("/signing-sessions/<id>")
def get_signing(id: str) -> Response:
    row = _own_session(id)
    if row is None:
        return problem(404, "Not Found", "no such signing session for this kiosk")
    return json_response(session_json(row, sim().now()))


@bp.post("/signing-sessions/<id>/cancel")
def cancel_signing(id: str) -> Response:
    state = sim()
    with state.write_lock:
        row = _own_session(id)
        if row is None:
            return problem(404, "Not Found", "no such signing session for this kiosk")
        now = state.now()
        if row.status == "waiting" and now < row.expires_at:
            row.status = "cancelled"
            session().commit()
        return json_response(session_json(row, now))
