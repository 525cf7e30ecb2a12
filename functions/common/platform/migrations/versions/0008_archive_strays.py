"""Archive strays: instances the archive may hold although the index does not, noted until they are removed.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archive_strays",
        sa.Column("orthanc_id", sa.String(length=64), nullable=False),
        sa.Column("sop_uid", sa.String(length=64), nullable=False),
        sa.Column("noted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("orthanc_id", name=op.f("archive_strays_pkey")),
    )


def downgrade() -> None:
    op.drop_table("archive_strays")
