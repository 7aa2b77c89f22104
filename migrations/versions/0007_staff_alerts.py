"""Staff alerts and queue filters: SMS delivery failures, "call staff", and state/service indexes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sms_codes") as batch:
        batch.add_column(sa.Column("delivery_failed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "help_calls",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kiosk_id", sa.String(64), nullable=False),
        sa.Column("visit_id", sa.String(64), nullable=True),
        sa.Column("screen", sa.String(64), nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(64), nullable=True),
    )
    op.create_index("ix_help_calls_open", "help_calls", ["answered_at", "created_at"])
    # the queue's filters keep their newest-first order inside an index, whatever the pair's rarity
    op.create_index("ix_submissions_state_created", "submissions", ["state", "created_at", "id"])
    op.create_index("ix_submissions_service_created", "submissions", ["service_code", "created_at", "id"])
    op.create_index(
        "ix_submissions_state_service_created", "submissions", ["state", "service_code", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_submissions_state_service_created", table_name="submissions")
    op.drop_index("ix_submissions_service_created", table_name="submissions")
    op.drop_index("ix_submissions_state_created", table_name="submissions")
    op.drop_index("ix_help_calls_open", table_name="help_calls")
    op.drop_table("help_calls")
    with op.batch_alter_table("sms_codes") as batch:
        batch.drop_column("delivery_failed_at")
