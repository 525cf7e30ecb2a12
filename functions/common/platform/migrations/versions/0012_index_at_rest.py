"""The study index at rest: study dates shifted by a keyed number of days per owner (still range-searchable, and
in order within one owner), study time and study/series descriptions no longer in clear (they are read from the
sealed originals), and the per-owner indexes a search walks carry the columns it filters on (plus one for the
list by upload time).

Existing dates are shifted here with the platform's own `date_shift` (the migration needs the platform's keys,
as the functions do); the clear columns are dropped. Descriptions of studies stored before the originals held
them are no longer shown.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# A stored date out of Python's calendar (year 1-9999) after the shift is not kept: the index then knows no date.
_MOVE = sa.text("UPDATE studies SET study_date = CASE WHEN study_date + :days BETWEEN DATE '0001-01-01' "
                "AND DATE '9999-12-31' THEN study_date + :days END WHERE owner_id = :owner AND study_date IS NOT NULL")


def _move_dates(sign: int) -> None:
    """Shift (sign 1) or unshift (sign -1) every owner's stored study dates."""
    conn = op.get_bind()
    owners = conn.execute(sa.text("SELECT DISTINCT owner_id FROM studies WHERE study_date IS NOT NULL")).scalars().all()
    if not owners:
        return
    from functions.common.dicom.search import date_shift  # reads the platform's keys: only when rows need it

    for owner in owners:
        conn.execute(_MOVE, {"days": sign * date_shift(owner), "owner": owner})


def upgrade() -> None:
    _move_dates(1)
    op.drop_column("studies", "study_time")
    op.drop_column("studies", "description")
    op.drop_column("series", "description")
    # The search walks these per owner and filters on the index entries alone (no table row read per entry).
    op.drop_index("ix_studies_owner_date_desc", table_name="studies")
    op.execute("CREATE INDEX ix_studies_owner_date_desc ON studies (owner_id, study_date DESC NULLS LAST, id) "
               "INCLUDE (name_tokens, modalities)")
    op.execute("CREATE INDEX ix_studies_owner_uploaded_desc ON studies (owner_id, created_at DESC, id) "
               "INCLUDE (name_tokens, modalities)")


def downgrade() -> None:
    op.drop_index("ix_studies_owner_uploaded_desc", table_name="studies")
    op.drop_index("ix_studies_owner_date_desc", table_name="studies")
    op.execute("CREATE INDEX ix_studies_owner_date_desc ON studies (owner_id, study_date DESC NULLS LAST, id)")
    op.add_column("series", sa.Column("description", sa.String(length=64), nullable=True))
    op.add_column("studies", sa.Column("description", sa.String(length=64), nullable=True))
    op.add_column("studies", sa.Column("study_time", sa.String(length=16), nullable=True))
    _move_dates(-1)
