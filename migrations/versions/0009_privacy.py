"""Personal data from consent to erasure: when a submission closed, when its data was erased, and
which consent text its parent agreed to.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("consent_version", sa.String(16), nullable=True))
        batch.add_column(sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True))
    # the submissions already closed count their retention from the event that closed them
    op.execute(
        sa.text(
            "UPDATE submissions SET closed_at = (SELECT max(e.at) FROM submission_events e "
            "WHERE e.submission_id = submissions.id AND e.to_state = submissions.state) "
            "WHERE state IN ('approved', 'refused', 'cancelled')"
        )
    )
    op.create_index(
        "ix_submissions_held_closed",
        "submissions",
        ["state", "closed_at"],
        sqlite_where=sa.text("erased_at IS NULL"),
        postgresql_where=sa.text("erased_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_submissions_held_closed", table_name="submissions")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("consent_at")
        batch.drop_column("consent_version")
        batch.drop_column("erased_at")
        batch.drop_column("closed_at")
