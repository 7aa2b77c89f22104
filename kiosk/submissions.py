"""The durable queue: a signed application and its first event, written in one transaction.

A receipt is a promise: the view shows it only after this commit. The payload and the
attachments are sealed (AES-GCM) with the submission's own data key (kiosk/datakeys.py), bound to
its uuid; look-ups go through keyed hashes of the IINs. Signed submissions never change their
payload: only the state and the delivery fields move, until erasure (kiosk/privacy.py) destroys
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

from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from kiosk import audit
from kiosk.crypto import KeyDestroyed, Keyring
from kiosk.keys import keyed_hash
from kiosk.models import Attachment, State, Submission, SubmissionEvent
from kiosk.references import new_reference, normalise

IMMUTABLE = (
    "uuid",
    "reference",
    "service_code",
    "catalog_version",
    "school_year",
    "identity_method",
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


class ImmutableSubmission(Exception):
    """Something tried to change what the parent signed."""


class Erased(Exception):
    """This submission's personal data was erased: its key is destroyed, its payload emptied."""

    def __init__(self, submission: Submission) -> None:
        super().__init__(submission.reference)
        self.erased_at = submission.erased_at


@event.listens_for(Submission, "before_update")
def _refuse_changes(_mapper: Any, _connection: Any, target: Submission) -> None:
    from sqlalchemy import inspect

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


@dataclass(frozen=True)
class Queued:
    submission: Submission
    status_token: str  # for the receipt's QR code; only its hash is stored


def queue_submission(
    session: Session,
    *,
    payload: dict[str, Any],
    payload_hash: str,
    identity_method: str,
    lang: str,
    now: dt.datetime,
    keyring: Keyring,
    visit_id: str | None = None,
) -> Queued:
    """Add the submission, its first event and its attachments; the caller commits, once."""
    existing = existing_for_child(session, payload["service"], payload["answers"]["child_iin"], payload["school_year"])
    if existing is not None:
        raise AlreadyApplied(existing)
    uid = str(uuidlib.uuid4())
    token = secrets.token_urlsafe(24)
    if keyring.datakeys is None:
        raise RuntimeError("no store for the submissions' own keys")
    # committed before the submission: a crash between leaves a key without a submission, never the reverse
    own_key = keyring.datakeys.create(uid, now)
    consent = payload.get("consent") or {}
    state = State.QUEUED if identity_method == "sms" else State.NEEDS_VERIFICATION
    submission = Submission(
        uuid=uid,
        reference=_unused_reference(session),
        service_code=payload["service"],
        catalog_version=payload["catalog_version"],
        school_year=payload["school_year"],
        state=state,
        identity_method=identity_method,
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
            detail={"identity": identity_method, "catalog_version": payload["catalog_version"]},
        )
    )
    session.add(submission)
    try:
        session.flush()
    except IntegrityError:
        # another terminal queued the same child a moment ago: the unique index decided
        session.rollback()
        raced = existing_for_child(session, payload["service"], payload["answers"]["child_iin"], payload["school_year"])
        if raced is not None:
            raise AlreadyApplied(raced) from None
        raise
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


def open_attachment(submission: Submission, attachment: Attachment, keyring: Keyring) -> bytes:
    """One attachment's bytes; ``Erased`` once its submission's key is destroyed."""
    try:
        return keyring.open(attachment.sealed, bound_to=attachment.sha256, owner=submission.uuid)
    except KeyDestroyed:
        raise Erased(submission) from None


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
