"""Each instance's stored transfer syntax (frames go out as stored without asking the archive first) and a
study's burned-in annotation flag (set at ingest from the instances' BurnedInAnnotation or modality).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for instances stored before this revision: the archive is asked for their syntax then.
    op.add_column("instances", sa.Column("transfer_syntax", sa.String(length=64), nullable=True))
    # NULL: nothing says so; "yes": an instance's BurnedInAnnotation is YES; "suspected": a modality known for it
    # (US, SC, OT …) without the attribute.
    op.add_column("studies", sa.Column("burned_in", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("studies", "burned_in")
    op.drop_column("instances", "transfer_syntax")
