"""An index on the child's IIN hash, so the staff's search by IIN (applicant or child) seeks.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_submissions_child", "submissions", ["child_iin_hash"])


def downgrade() -> None:
    op.drop_index("ix_submissions_child", table_name="submissions")
