"""Typed SQLAlchemy 2.x models; every schema change goes through migrations/."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Visit(Base):
    """A visitor's server-side session; the cookie holds only a random token."""

    __tablename__ = "visits"

    # sha256 of the cookie token, so a copy of the database holds no live cookie
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SmsCode(Base):
    """One SMS code sent: only its keyed hash is kept, bound to the IIN and to what it signs.

    Each row is also one send, so the send limits (per IIN, per kiosk) count these rows, and the
    failures of earlier codes still count when a new code is sent.
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
