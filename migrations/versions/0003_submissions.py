"""Submissions, their events and attachments.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("reference", sa.String(16), nullable=False, unique=True),
        sa.Column("service_code", sa.String(32), nullable=False),
        sa.Column("catalog_version", sa.String(64), nullable=False),
        sa.Column("school_year", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("identity_method", sa.String(16), nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("applicant_iin_hash", sa.String(64), nullable=False),
        sa.Column("child_iin_hash", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("status_token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("portal_reference", sa.String(64), nullable=True),
    )
    op.create_index(
        "uq_submissions_child_service_year",
        "submissions",
        ["child_iin_hash", "service_code", "school_year"],
        unique=True,
        sqlite_where=sa.text("state != 'cancelled'"),
        postgresql_where=sa.text("state != 'cancelled'"),
    )
    op.create_index("ix_submissions_state_due", "submissions", ["state", "next_attempt_at"])
    op.create_index("ix_submissions_applicant", "submissions", ["applicant_iin_hash"])
    op.create_index("ix_submissions_created", "submissions", ["created_at", "id"])
    op.create_table(
        "submission_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_state", sa.String(24), nullable=True),
        sa.Column("to_state", sa.String(24), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_index("ix_submission_events_submission_id", "submission_events", ["submission_id"])
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("visit_id", sa.String(64), nullable=True),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submissions.id"), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_attachments_visit_id", "attachments", ["visit_id"])
    op.create_index("ix_attachments_submission_id", "attachments", ["submission_id"])


def downgrade() -> None:
    op.drop_table("attachments")
    op.drop_table("submission_events")
    op.drop_table("submissions")
