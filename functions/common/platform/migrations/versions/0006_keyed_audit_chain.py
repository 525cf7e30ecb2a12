"""Audit log: rows are chained by an HMAC under a key outside the database (`keyed`); rows written
before keep their plain SHA-256 chain (false) and may only precede keyed rows.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Adding a column with a constant default rewrites no row (the append-only trigger stays quiet).
    op.add_column("audit_log", sa.Column("keyed", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.alter_column("audit_log", "keyed", server_default=sa.true())


def downgrade() -> None:
    op.drop_column("audit_log", "keyed")
