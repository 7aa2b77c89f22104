"""Typed SQLAlchemy 2.x models; every schema change goes through migrations/."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Visit(Base):
    """A visitor's server-side session; the cookie holds only a random token."""

    __tablename__ = "visits"

    # sha256 of the cookie token, so a copy of the database holds no live cookie
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    # the visit's data as JSON, sealed with the data key: it holds IINs and answers
    data: Mapped[str] = mapped_column(Text)


class SmsCode(Base):
    """One SMS code sent: only its keyed hash is kept, bound to the IIN and to what it signs.

    Each row is also one send: the send limits (per IIN, per kiosk) count the rows never entered
    right (used_at empty), and the failures of earlier codes still count when a new code is sent.
    """

    __tablename__ = "sms_codes"
    __table_args__ = (
        Index("ix_sms_codes_iin_created", "iin_hash", "created_at"),
        Index("ix_sms_codes_kiosk_created", "kiosk_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    iin_hash: Mapped[str] = mapped_column(String(64))
    subject_hash: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(64))
    kiosk_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # the gateway refused or the central system did not answer: the staff dashboard alerts
    delivery_failed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class State(enum.StrEnum):
    """A submission's states (product.md); every change is an event in the same transaction."""

    NEEDS_VERIFICATION = "needs_verification"  # staff-assisted: waits for the ID card at the office
    QUEUED = "queued"
    SENDING = "sending"
    RETRY_WAIT = "retry_wait"
    DELIVERED = "delivered"
    IN_PROGRESS = "in_progress"
    APPROVED = "approved"
    REFUSED = "refused"
    NEEDS_STAFF = "needs_staff"
    CANCELLED = "cancelled"


class Submission(Base):
    """One signed application: immutable once signed, its personal data sealed at rest."""

    __tablename__ = "submissions"
    __table_args__ = (
        # one application per child per service per school year (a cancelled one does not count)
        Index(
            "uq_submissions_child_service_year",
            "child_iin_hash",
            "service_code",
            "school_year",
            unique=True,
            sqlite_where=text("state != 'cancelled'"),
            postgresql_where=text("state != 'cancelled'"),
        ),
        Index("ix_submissions_state_due", "state", "next_attempt_at"),
        Index("ix_submissions_applicant", "applicant_iin_hash"),
        Index("ix_submissions_child", "child_iin_hash"),  # staff search by IIN: applicant OR child
        Index("ix_submissions_created", "created_at", "id"),
        # the staff queue's filters, each keeping the newest-first order (bench/staff_queue.py)
        Index("ix_submissions_state_created", "state", "created_at", "id"),
        Index("ix_submissions_service_created", "service_code", "created_at", "id"),
        Index("ix_submissions_state_service_created", "state", "service_code", "created_at", "id"),
        # erasure: the held ones by outcome and closing time (kiosk/jobs/privacy.py); only those not
        # erased yet, so a run's batches never walk past the ones it erased before
        Index(
            "ix_submissions_held_closed",
            "state",
            "closed_at",
            sqlite_where=text("erased_at IS NULL"),
            postgresql_where=text("erased_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)  # the idempotency key at the portal
    reference: Mapped[str] = mapped_column(String(16), unique=True)  # what the parent reads
    service_code: Mapped[str] = mapped_column(String(32))
    catalog_version: Mapped[str] = mapped_column(String(64))
    school_year: Mapped[int] = mapped_column(Integer)  # 2026 means 2026-2027
    state: Mapped[str] = mapped_column(String(24))
    # what proves the applicant: sms, ecp, egov_mobile (a code or a signature at the kiosk), or
    # in_person (staff see the ID card at the office before it is sent)
    identity_method: Mapped[str] = mapped_column(String(16))
    # how the application was signed: sms, ecp (NCALayer at the terminal), egov_mobile (QR code),
    # staff (nobody signed here: staff check the ID card)
    signature_method: Mapped[str] = mapped_column(String(16))
    # an ЭЦҚ's CMS with who signed and how it was checked, sealed as the payload is (None for sms, staff)
    signature: Mapped[str | None] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(2))
    applicant_iin_hash: Mapped[str] = mapped_column(String(64))
    child_iin_hash: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)  # sealed JSON: who, the answers, the checklist
    payload_hash: Mapped[str] = mapped_column(String(64))  # what the SMS code signed
    status_token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # the receipt's QR
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    portal_reference: Mapped[str | None] = mapped_column(String(64))
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # the sync worker holding the lease
    # when it reached its outcome (approved, refused, cancelled): its retention counts from then
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # when its personal data was erased (its own key destroyed); the record stays, without it
    erased_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # which consent text the parent agreed to, and when (the whole text is sealed in the payload)
    consent_version: Mapped[str | None] = mapped_column(String(16))
    consent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    events: Mapped[list[SubmissionEvent]] = relationship(
        back_populates="submission", order_by="SubmissionEvent.id", cascade="all, delete-orphan"
    )


class SubmissionEvent(Base):
    """One step in a submission's history, shown to staff and (its public part) to the parent."""

    __tablename__ = "submission_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(64))  # visitor, sync, staff:<name>
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # never personal data

    submission: Mapped[Submission] = relationship(back_populates="events")


class Attachment(Base):
    """A photo or PDF of a document: sealed, at most 5 MB for one application in all."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    visit_id: Mapped[str | None] = mapped_column(String(64), index=True)  # while still a draft
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # image/jpeg or application/pdf
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class SyncState(Base):
    """The worker's bookkeeping: the changes-feed cursor, the last success, the last failure."""

    __tablename__ = "sync_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class StaffUser(Base):
    """A member of the school's staff: argon2 hash, a role, and a lock after repeated failures."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # operator or admin
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class SignInThrottle(Base):
    """Failed sign-ins under a name that is no active account, counted and locked as an account's
    are (``failed_logins``, ``locked_until``), so the lock tells nobody which names exist.

    Keyed by a keyed hash of the name: a password typed into the name field is not kept here.
    """

    __tablename__ = "sign_in_throttle"

    name_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """One staff or system action; each entry carries the hash of the one before it, so an edited
    or deleted entry breaks the chain (``kiosk audit verify``)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # never personal data
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class HelpCall(Base):
    """A visitor pressed "call staff": it stays on the staff dashboard until someone answers it."""

    __tablename__ = "help_calls"
    __table_args__ = (Index("ix_help_calls_open", "answered_at", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kiosk_id: Mapped[str] = mapped_column(String(64))
    visit_id: Mapped[str | None] = mapped_column(String(64))  # the visit's key, never its data
    screen: Mapped[str] = mapped_column(String(64))  # the endpoint the visitor was on
    lang: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    answered_by: Mapped[str | None] = mapped_column(String(64))
