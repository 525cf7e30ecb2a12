"""Study list: an index in the list's default order (owner, newest first).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_studies_owner_date", table_name="studies")
    op.execute("CREATE INDEX ix_studies_owner_date_desc ON studies (owner_id, study_date DESC NULLS LAST, id)")


def downgrade() -> None:
    op.drop_index("ix_studies_owner_date_desc", table_name="studies")
    op.create_index("ix_studies_owner_date", "studies", ["owner_id", "study_date"], unique=False)
