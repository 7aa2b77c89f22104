"""The simulator's own pages: the simulated phone (for demos) and the admin endpoints (for tests).

Neither is signed: the phone page is what a parent's phone would show, and /admin answers only
to 127.0.0.1, where the test or the person running the demo sits.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from sqlalchemy import func, select

from kiosk.clock import ALMATY
from kiosk.portal_sim import citizens, session, sim
from kiosk.portal_sim.api import json_response
from kiosk.portal_sim.faults import BadFaults, Faults
from kiosk.portal_sim.models import Application, AppSignature, Change, Citizen, SigningSession, Sms
from kiosk.portal_sim.problems import problem
from kiosk.portal_sim.validation import BadJson, parse_json

bp = Blueprint("portal_sim_pages", __name__)

LOCAL = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


@bp.before_request
def only_local_admin() -> Response | None:
    if request.path.startswith("/admin") and request.remote_addr not in LOCAL:
        return problem(403, "Forbidden", "the admin endpoints answer only on 127.0.0.1")
    return None


@bp.get("/admin/faults")
def get_faults() -> Response:
    return json_response(sim().faults.as_json())


@bp.post("/admin/faults")
def set_faults() -> Response:
    """Replace all fault settings; ``{}`` (or an empty body) is a well-behaved central system."""
    raw = request.get_data(cache=True)
    try:
        data = parse_json(raw) if raw.strip() else {}
        faults = Faults.from_mapping(data)
    except (BadJson, BadFaults) as exc:
        return problem(400, "Bad Request", str(exc))
    sim().faults.set(faults)
    return json_response(sim().faults.as_json())


@bp.get("/admin/stats")
def stats() -> Response:
    """Counts that prove what the store holds: e.g. that no resend ever made a second application."""
    s = session()
    applications = s.scalar(select(func.count()).select_from(Application)) or 0
    keys = s.scalar(
        select(func.count()).select_from(
            select(Application.kiosk_id, Application.idempotency_key).distinct().subquery()
        )
    )
    replays = s.scalar(select(func.coalesce(func.sum(Application.replays), 0))) or 0
    conflicts = s.scalar(select(func.coalesce(func.sum(Application.conflicts), 0))) or 0
    by_status = dict(s.execute(select(Application.status, func.count()).group_by(Application.status)).all())
    state = sim().faults
    with state.lock:
        requests = dict(sorted(state.requests.items()))
    return json_response(
        {
            "applications": applications,
            "idempotency_keys": keys or 0,
            "duplicate_rows": applications - (keys or 0),
            "duplicates_refused": replays + conflicts,
            "replays": replays,
            "conflicts": conflicts,
            "applications_by_status": by_status,
            "changes": s.scalar(select(func.count()).select_from(Change)) or 0,
            "sms": s.scalar(select(func.count()).select_from(Sms)) or 0,
            "signatures": dict(
                s.execute(select(AppSignature.method, func.count()).group_by(AppSignature.method)).all()
            ),
            "requests": requests,
        }
    )


def _phone_view(citizen_rows: list[tuple[str, str | None]]) -> list[dict[str, Any]]:
    """Citizens with their texts, newest first, in the shape the template wants."""
    s = session()
    out = []
    for iin, phone in citizen_rows:
        texts = s.scalars(select(Sms).where(Sms.iin == iin).order_by(Sms.sent_at.desc(), Sms.id.desc())).all()
        out.append(
            {
                "iin": iin,
                "phone": citizens.masked(phone) if phone else None,
                "messages": [{"text": m.text, "at": _local(m.sent_at), "kiosk": m.kiosk_id} for m in texts],
            }
        )
    return out


def _local(moment: dt.datetime) -> str:
    return moment.astimezone(ALMATY).strftime("%Y-%m-%d %H:%M:%S")


@bp.get("/phone")
def phone_list() -> str:
    """Every listed citizen and everyone who got a text; the newest texts first."""
    rows = session().execute(
        select(Citizen.iin, Citizen.phone, func.max(Sms.sent_at).label("last"))
        .outerjoin(Sms, Sms.iin == Citizen.iin)
        .group_by(Citizen.iin, Citizen.phone)
    )
    ordered = sorted(rows, key=lambda r: (r.last is None, -(r.last.timestamp() if r.last else 0), r.iin))
    people = _phone_view([(r.iin, r.phone) for r in ordered])
    return render_template("portal_sim/phone.html", people=people, one=False)


@bp.get("/phone/<iin>")
def phone_one(iin: str) -> str:
    if not citizens.valid_iin(iin):
        abort(404)
    phone = citizens.phone_of(session(), iin)
    return render_template("portal_sim/phone.html", people=_phone_view([(iin, phone)]), one=True)


# --- eGov Mobile on the demo parent's phone: what the QR code opens --------------------------------


def _signing_view(row: SigningSession) -> dict[str, Any]:
    """What eGov Mobile shows before the parent signs: the service, the child, the hash."""
    try:
        signed = json.loads(base64.b64decode(row.document))
        what = {
            "service": str(signed.get("service", "")),
            "school_year": str(signed.get("school_year", "")),
            "child": str((signed.get("answers") or {}).get("child_name", "")),
        }
    except (ValueError, TypeError, AttributeError):
        what = {"service": "", "school_year": "", "child": ""}
    status = row.status
    if status == "waiting" and sim().now() >= row.expires_at:
        status = "expired"
    return {"row": row, "status": status, "what": what, "iin": row.applicant_iin}


@bp.get("/phone/sign/<session_id>")
def sign_page(session_id: str) -> str:
    row = session().get(SigningSession, session_id)
    if row is None:
        abort(404)
    return render_template("portal_sim/sign.html", **_signing_view(row))


@bp.post("/phone/sign/<session_id>")
def sign_answer(session_id: str) -> Response | str:
    """The parent signs (the simulator's CA issues their signing key) or declines, on the phone."""
    state = sim()
    answer = request.form.get("answer")
    with state.write_lock:
        s = session()
        row = s.get(SigningSession, session_id)
        if row is None:
            abort(404)
        if answer not in ("sign", "decline"):
            abort(400)
        if row.status == "waiting" and state.now() < row.expires_at:
            if answer == "sign":
                cms = state.ecp.sign_on_phone(row.applicant_iin, base64.b64decode(row.document))
                row.cms = base64.b64encode(cms).decode()
                row.status = "signed"
            else:
                row.status = "declined"
            s.commit()
    return render_template("portal_sim/sign.html", **_signing_view(row))
