"""The durable queue: a signed application and its first event, written in one transaction.

A receipt is a promise: the view shows it only after this commit. The payload and the
attachments are sealed (AES-GCM) with the submission's own data key (kiosk/infra/datakeys.py), bound to
its uuid; look-ups go through keyed hashes of the IINs. Signed submissions never change their
payload: only the state and the delivery fields move, until erasure (kiosk/jobs/privacy.py) destroys
the key and empties the payload.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import uuid as uuidlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from kiosk.domain import audit
from kiosk.domain.references import new_reference, normalise
from kiosk.infra.crypto import KeyDestroyed, Keyring
from kiosk.infra.keys import keyed_hash
from kiosk.models import Attachment, State, Submission, SubmissionEvent

IMMUTABLE = (
    "uuid",
    "reference",
    "service_code",
    "catalog_version",
    "school_year",
    "identity_method",
    "signature_method",
    "signature",
    "applicant_iin_hash",
    "child_iin_hash",
    "payload",
    "payload_hash",
    "status_token_hash",
    "created_at",
    "consent_version",
    "consent_at",
)
FINAL = (State.APPROVED, State.REFUSED, State.CANCELLED)  # an outcome: the retention counts from it


class AlreadyApplied(Exception):
    """This child already has an application for this service this school year."""

    def __init__(self, existing: Submission) -> None:
        super().__init__(existing.reference)
        self.reference = existing.reference
        self.applicant_iin_hash = existing.applicant_iin_hash

    def reference_for(self, applicant_iin: str) -> str | None:
        """The reference, only for the adult who made that application: to anyone else it would
        name another family's application (and, for meals, its social category).
        """
        if hmac.compare_digest(self.applicant_iin_hash, iin_hash(applicant_iin)):
            return self.reference
        return None


class LostRace(Exception):
    """Another terminal queued the same child between the check and the insert: the unique index
    refused this one. The session cannot be used until the caller rolls it back; then
    ``already_applied`` names the application that won."""


class ImmutableSubmission(Exception):
    """Something tried to change what the parent signed."""


class Erased(Exception):
    """This submission's personal data was erased: its key is destroyed, its payload emptied."""

    def __init__(self, submission: Submission) -> None:
        super().__init__(submission.reference)
        self.erased_at = submission.erased_at


@event.listens_for(Submission, "before_update")
def _refuse_changes(_mapper: Any, _connection: Any, target: Submission) -> None:
    state = inspect(target)
    changed = [name for name in IMMUTABLE if state.attrs[name].history.has_changes()]
    if changed:
        raise ImmutableSubmission(f"signed submission fields cannot change: {', '.join(changed)}")


def iin_hash(iin: str) -> str:
    return keyed_hash("iin", iin)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def existing_for_child(session: Session, service_code: str, child_iin: str, year: int) -> Submission | None:
    return session.scalars(
        select(Submission).where(
            Submission.child_iin_hash == iin_hash(child_iin),
            Submission.service_code == service_code,
            Submission.school_year == year,
            Submission.state != State.CANCELLED,
        )
    ).first()


SIGNATURE_METHODS = ("sms", "ecp", "egov_mobile", "staff")
# what proves the applicant, for each way of signing: a signature or a code proves them at the
# kiosk; "staff" means nobody signed here, and staff must see the ID card before it is sent
IDENTITY_OF = {"sms": "sms", "ecp": "ecp", "egov_mobile": "egov_mobile", "staff": "in_person"}


def already_applied(session: Session, payload: dict[str, Any]) -> AlreadyApplied | None:
    """The refusal for this payload's child, service and year, if an application is there already."""
    existing = existing_for_child(session, payload["service"], payload["answers"]["child_iin"], payload["school_year"])
    return AlreadyApplied(existing) if existing is not None else None


@dataclass(frozen=True)
class Queued:
    submission: Submission
    status_token: str  # for the receipt's QR code; only its hash is stored


def queue_submission(
    session: Session,
    *,
    payload: dict[str, Any],
    payload_hash: str,
    identity_method: str | None = None,
    lang: str,
    now: dt.datetime,
    keyring: Keyring,
    visit_id: str | None = None,
    signature_method: str | None = None,
    signature: dict[str, Any] | None = None,
) -> Queued:
    """Add the submission, its first event and its attachments, flushed; the caller commits, once.

    ``signature_method`` says how it was signed (``SIGNATURE_METHODS``); an ЭЦҚ's ``signature``
    (``ecp.Verified.record``: the CMS, the signer, how it was checked) is sealed with the
    submission as its payload is. ``identity_method`` alone (sms, in_person) is the older call.
    Raises AlreadyApplied when the child has an application already, and LostRace when another
    terminal's insert won meanwhile; either way the caller rolls back (never this function: the
    caller's transaction may hold more than this submission).
    """
    if signature_method is None:
        signature_method = "staff" if identity_method == "in_person" else (identity_method or "sms")
    if signature_method not in SIGNATURE_METHODS:
        raise ValueError(f"unknown signature method {signature_method!r}")
    if (signature is None) != (signature_method in ("sms", "staff")):
        raise ValueError(f"a {signature_method} signature {'needs' if signature is None else 'has no'} CMS")
    identity_method = IDENTITY_OF[signature_method]
    already = already_applied(session, payload)
    if already is not None:
        raise already
    uid = str(uuidlib.uuid4())
    token = secrets.token_urlsafe(24)
    if keyring.datakeys is None:
        raise RuntimeError("no store for the submissions' own keys")
    # committed before the submission: a crash between leaves a key without a submission, never the reverse
    own_key = keyring.datakeys.create(uid, now)
    consent = payload.get("consent") or {}
    state = State.NEEDS_VERIFICATION if signature_method == "staff" else State.QUEUED
    submission = Submission(
        uuid=uid,
        reference=_unused_reference(session),
        service_code=payload["service"],
        catalog_version=payload["catalog_version"],
        school_year=payload["school_year"],
        state=state,
        identity_method=identity_method,
        signature_method=signature_method,
        # sealed with the application's own key, like its payload: erasure makes the signer unreadable too
        signature=keyring.seal_own(own_key, _json(signature), bound_to=f"{uid}:signature")
        if signature is not None
        else None,
        lang=lang,
        applicant_iin_hash=iin_hash(payload["applicant"]["iin"]),
        child_iin_hash=iin_hash(payload["answers"]["child_iin"]),
        payload=keyring.seal_own(own_key, _json(payload), bound_to=uid),
        payload_hash=payload_hash,
        status_token_hash=token_hash(token),
        created_at=now,
        updated_at=now,
        attempts=0,
        next_attempt_at=now if state == State.QUEUED else None,
        consent_version=consent.get("version"),
        consent_at=dt.datetime.fromisoformat(consent["at"]) if consent.get("at") else None,
    )
    submission.events.append(
        SubmissionEvent(
            at=now,
            from_state=None,
            to_state=state,
            actor="visitor",
            detail={
                "identity": identity_method,
                "signature": signature_method,
                "catalog_version": payload["catalog_version"],
            },
        )
    )
    session.add(submission)
    try:
        session.flush()
    except IntegrityError as exc:  # another terminal queued the same child a moment ago
        raise LostRace from exc
    audit.append(
        session,
        actor="visitor",
        action=f"submission.{state}",
        target=submission.reference,
        now=now,
        service=submission.service_code,
    )
    if visit_id is not None:
        for attachment in session.scalars(select(Attachment).where(Attachment.visit_id == visit_id)):
            if attachment.sha256 in payload["attachments"]:
                attachment.submission_id = submission.id
                attachment.visit_id = None
                # from the site key to the submission's own: erasure makes it unreadable with the rest
                data = keyring.open(attachment.sealed, bound_to=attachment.sha256)
                attachment.sealed = keyring.seal_own(own_key, data, bound_to=attachment.sha256)
    return Queued(submission, token)


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _unused_reference(session: Session) -> str:
    while True:
        reference = new_reference()
        if session.scalar(select(Submission.id).where(Submission.reference == reference)) is None:
            return reference


def find_by_reference(session: Session, typed_reference: str, applicant_iin: str) -> Submission | None:
    """Status look-up: the reference and the applicant's IIN must both match, else nothing."""
    reference = normalise(typed_reference)
    if reference is None:
        return None
    return session.scalars(
        select(Submission).where(
            Submission.reference == reference, Submission.applicant_iin_hash == iin_hash("".join(applicant_iin.split()))
        )
    ).first()


def find_by_token(session: Session, token: str) -> Submission | None:
    if not token or len(token) > 64:
        return None
    return session.scalars(select(Submission).where(Submission.status_token_hash == token_hash(token))).first()


def open_payload(submission: Submission, keyring: Keyring) -> dict[str, Any]:
    """The sealed payload; ``Erased`` once its personal data is gone."""
    if submission.erased_at is not None or not submission.payload:
        raise Erased(submission)
    try:
        return keyring.open_json(submission.payload, bound_to=submission.uuid, owner=submission.uuid)
    except KeyDestroyed:
        raise Erased(submission) from None


def attachments_of(session: Session, submission: Submission) -> list[Attachment]:
    """The files sent with an application, in the order the parent attached them."""
    query = select(Attachment).where(Attachment.submission_id == submission.id).order_by(Attachment.id)
    return list(session.scalars(query))


def open_attachment(submission: Submission, attachment: Attachment, keyring: Keyring) -> bytes:
    """One attachment's bytes; ``Erased`` once its submission's key is destroyed."""
    try:
        return keyring.open(attachment.sealed, bound_to=attachment.sha256, owner=submission.uuid)
    except KeyDestroyed:
        raise Erased(submission) from None


def open_signature(submission: Submission, keyring: Keyring) -> dict[str, Any] | None:
    """The ЭЦҚ kept with an application (``ecp.Verified.record``), or None (sms, staff)."""
    if submission.signature is None:
        return None
    try:
        return keyring.open_json(submission.signature, bound_to=f"{submission.uuid}:signature", owner=submission.uuid)
    except KeyDestroyed as exc:
        raise Erased(submission) from exc


def transition(submission: Submission, to_state: str, now: dt.datetime, actor: str, **detail: Any) -> None:
    """Change the state and write its event in the same transaction (without loading the history)."""
    session = object_session(submission)
    assert session is not None
    session.add(
        SubmissionEvent(
            submission_id=submission.id,
            at=now,
            from_state=submission.state,
            to_state=to_state,
            actor=actor,
            detail=detail,
        )
    )
    if to_state in FINAL and to_state != submission.state:
        submission.closed_at = now
    submission.state = to_state
    submission.updated_at = now


def by_reference(session: Session, reference: str) -> Submission | None:
    return session.scalars(select(Submission).where(Submission.reference == reference)).first()
