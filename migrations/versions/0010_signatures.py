"""How each application was signed (sms, ecp, egov_mobile, staff) and the sealed ЭЦҚ signature.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # SQLite adds a NOT NULL column only with a default; rebuilding the table instead (batch mode)
    # drops the old one, which its foreign keys (events, attachments) refuse while rows point at it
    op.add_column(
        "submissions",
        sa.Column("signature_method", sa.String(16), nullable=not sqlite, server_default="sms" if sqlite else None),
    )
    op.add_column("submissions", sa.Column("signature", sa.Text, nullable=True))
    # until now an application was signed with an SMS code, or not at all (staff see the ID card)
    op.execute(
        "UPDATE submissions SET signature_method = CASE WHEN identity_method = 'sms' THEN 'sms' ELSE 'staff' END"
    )
    if not sqlite:
        op.alter_column("submissions", "signature_method", existing_type=sa.String(16), nullable=False)


def downgrade() -> None:
    op.drop_column("submissions", "signature")  # SQLite 3.35 and later drop a column in place
    op.drop_column("submissions", "signature_method")
