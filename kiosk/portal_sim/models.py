"""The simulator's own store: citizens, SMS, applications, their status changes, seen nonces.

A test peer, not the kiosk: its tables are made with ``metadata.create_all`` (no migrations) in a
SQLite file of its own, so the kiosk's database and the central system's can never be confused.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, ForeignKey, Index, Integer, String, Text, UniqueConstraint, inspect, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC in Python, naive UTC in SQLite (which keeps no zone), so comparisons hold."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the simulator's store")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    pass


class Citizen(Base):
    """Someone in the mobile citizens database (seeded, or met through an SMS to any valid IIN)."""

    __tablename__ = "citizens"

    iin: Mapped[str] = mapped_column(String(12), primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(16))  # E.164; None: no phone registered
    seeded: Mapped[bool] = mapped_column(default=False)


class Sms(Base):
    """A text delivered to a citizen's phone, shown on the simulated phone page."""

    __tablename__ = "sms"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    iin: Mapped[str] = mapped_column(ForeignKey("citizens.iin"), index=True)
    kiosk_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Application(Base):
    """One application per (kiosk, Idempotency-Key), for ever: a resend never makes a second row."""

    __tablename__ = "applications"
    __table_args__ = (UniqueConstraint("kiosk_id", "idempotency_key"), Index("ix_applications_received", "received_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(36))
    body_sha256: Mapped[str] = mapped_column(String(64))  # of the canonical JSON: what "the same body" means
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    service: Mapped[str] = mapped_column(String(32))
    school_year: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[str] = mapped_column(String(40))
    applicant_iin: Mapped[str] = mapped_column(String(12))
    child_iin: Mapped[str] = mapped_column(String(12))
    identity: Mapped[str] = mapped_column(String(16))
    lang: Mapped[str] = mapped_column(String(2))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    attachments: Mapped[list[str]] = mapped_column(JSON)
    payload_hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16))  # accepted, in_progress, approved, refused
    outcome: Mapped[str] = mapped_column(String(16))  # decided at receipt, shown after two steps
    reason_code: Mapped[str | None] = mapped_column(String(32))
    replays: Mapped[int] = mapped_column(default=0)  # the same key and body again
    conflicts: Mapped[int] = mapped_column(default=0)  # the same key with another body (409)

    changes: Mapped[list[Change]] = relationship(back_populates="application", order_by="Change.id")


class Change(Base):
    """One status transition; its id is the feed's cursor, so the feed replays from any point."""

    __tablename__ = "changes"
    __table_args__ = (
        UniqueConstraint("application_id", "status"),
        Index("ix_changes_kiosk", "kiosk_id", "id"),
        {"sqlite_autoincrement": True},  # cursors only ever grow
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    kiosk_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    application: Mapped[Application] = relationship(back_populates="changes")


class Nonce(Base):
    """A nonce already used by a kiosk; kept for twice the allowed clock skew, then forgotten."""

    __tablename__ = "nonces"

    kiosk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class AppSignature(Base):
    """How an application was signed, and for an ЭЦҚ who signed (a table of its own, so a
    simulator store made before signatures travelled keeps working: ``create_all`` adds it)."""

    __tablename__ = "application_signatures"

    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), primary_key=True)
    method: Mapped[str] = mapped_column(String(16))
    checked_by: Mapped[str | None] = mapped_column(String(24))  # as the kiosk said it checked it
    signer_serial: Mapped[str | None] = mapped_column(String(64))  # the certificate, when an ЭЦҚ
    # the CMS as it arrived (base64), kept as the central system keeps the signature it relies on
    # (a column added after the table: ``add_new_columns`` gives it to an older store)
    cms: Mapped[str | None] = mapped_column(Text)


class SigningSession(Base):
    """eGov Mobile by QR code: a kiosk asks for an application's bytes to be signed on the phone;
    the phone page (the demo parent's eGov Mobile) signs or declines; the kiosk polls for the CMS."""

    __tablename__ = "signing_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(64))
    applicant_iin: Mapped[str] = mapped_column(String(12))
    payload_hash: Mapped[str] = mapped_column(String(64))
    document: Mapped[str] = mapped_column(Text)  # base64 of the bytes to sign
    lang: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(16))  # waiting, signed, declined, cancelled (expired: by time)
    cms: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


def add_new_columns(engine: Engine) -> None:
    """``create_all`` makes the tables a store lacks, not the columns a table gained since it was
    made: add those (each new column is nullable), so a simulator's store from an older run opens."""
    inspector = inspect(engine)
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            present = {column["name"] for column in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present:
                    kind = column.type.compile(dialect=engine.dialect)
                    connection.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))
