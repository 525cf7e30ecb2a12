"""Indexes of study shares by grantee and creator: the owners who shared studies with a user are found one index
probe per owner (access.policy._sharers) instead of by grouping every share of the user at each search.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_study_shares_user_creator", "study_shares", ["user_id", "created_by"])
    op.create_index("ix_study_shares_group_creator", "study_shares", ["group_id", "created_by"])


def downgrade() -> None:
    op.drop_index("ix_study_shares_group_creator", table_name="study_shares")
    op.drop_index("ix_study_shares_user_creator", table_name="study_shares")
