"""Audit windows: repeated reads of one study are recorded once per window by all workers together.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_windows",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("audit_windows_pkey")),
    )
    op.create_index("ix_audit_windows_until", "audit_windows", ["until"])


def downgrade() -> None:
    op.drop_index("ix_audit_windows_until", table_name="audit_windows")
    op.drop_table("audit_windows")
