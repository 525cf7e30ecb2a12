"""Model registry: model information, version status and bundles, resumable uploads.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

JSON_LIST = sa.text("'[]'::jsonb")


def upgrade() -> None:
    op.alter_column("models", "description", type_=sa.String(length=4000), existing_nullable=True)
    op.add_column("models", sa.Column("architecture", sa.String(length=200), server_default="", nullable=False))
    op.add_column("models", sa.Column("task", sa.String(length=32), server_default="segmentation", nullable=False))
    op.add_column("models", sa.Column("modality", sa.String(length=16), server_default="", nullable=False))
    op.add_column("models", sa.Column("labels", postgresql.JSONB(astext_type=sa.Text()), server_default=JSON_LIST,
                                      nullable=False))
    op.add_column("models", sa.Column("active_version", sa.Integer(), nullable=True))
    op.add_column("models", sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                                      nullable=False))

    op.add_column("model_versions", sa.Column("status", sa.String(length=16), server_default="ready", nullable=False))
    op.add_column("model_versions", sa.Column("stage", sa.String(length=16), nullable=True))
    op.add_column("model_versions", sa.Column("digest", sa.String(length=64), nullable=True))
    op.add_column("model_versions", sa.Column("bundle_key", sa.String(length=300), nullable=True))
    op.add_column("model_versions", sa.Column("size", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column("model_versions", sa.Column("notes", sa.Text(), server_default="", nullable=False))
    op.add_column("model_versions", sa.Column("manifest", postgresql.JSONB(astext_type=sa.Text()),
                                              server_default=sa.text("'{}'::jsonb"), nullable=False))
    op.add_column("model_versions", sa.Column("files", postgresql.JSONB(astext_type=sa.Text()),
                                              server_default=JSON_LIST, nullable=False))
    op.add_column("model_versions", sa.Column("problems", postgresql.JSONB(astext_type=sa.Text()),
                                              server_default=JSON_LIST, nullable=False))
    op.add_column("model_versions", sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("uq_model_versions_digest", "model_versions", ["model_id", "digest"], unique=True,
                    postgresql_where=sa.text("status <> 'failed'"))

    op.create_table(
        "model_uploads",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("model_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("parts", postgresql.JSONB(astext_type=sa.Text()), server_default=JSON_LIST, nullable=False),
        sa.Column("expected_sha256", sa.String(length=64), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], name=op.f("model_uploads_model_id_fkey"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("model_uploads_user_id_fkey"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("model_uploads_pkey")),
    )
    op.create_index(op.f("ix_model_uploads_model_id"), "model_uploads", ["model_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_model_uploads_model_id"), table_name="model_uploads")
    op.drop_table("model_uploads")
    op.drop_index("uq_model_versions_digest", table_name="model_versions")
    for column in ("finished_at", "problems", "files", "manifest", "notes", "size", "bundle_key", "digest", "stage",
                   "status"):
        op.drop_column("model_versions", column)
    for column in ("updated_at", "active_version", "labels", "modality", "task", "architecture"):
        op.drop_column("models", column)
    op.alter_column("models", "description", type_=sa.String(length=2000), existing_nullable=True)
