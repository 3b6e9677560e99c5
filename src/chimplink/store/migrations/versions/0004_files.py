"""Files: the File Manager folder, per-photo uploads (intents first), imports, runs.

Revision ID: 0004_files
Revises: 0003_inbox
Create Date: 2025-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_files"
down_revision: str | None = "0003_inbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(length=36)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _installation_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["installation_id"],
        ["installations.id"],
        name=op.f(f"fk_{table}_installation_id_installations"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "file_folders",
        sa.Column("installation_id", ID, nullable=False),
        sa.Column("folder_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        _time("created_at"),
        _installation_fk("file_folders"),
        sa.PrimaryKeyConstraint("installation_id", name=op.f("pk_file_folders")),
    )

    op.create_table(
        "file_uploads",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("installation_id", ID, nullable=False),
        sa.Column("platform_key", sa.String(length=255), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("file_id", sa.BigInteger(), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("message", sa.String(length=500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("replaces_id", sa.BigInteger(), nullable=True),
        _time("created_at"),
        _time("updated_at"),
        sa.CheckConstraint(
            "status IN ('pending', 'uploaded', 'failed', 'rejected', 'superseded', 'deleted', "
            "'abandoned')",
            name=op.f("ck_file_uploads_status"),
        ),
        _installation_fk("file_uploads"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_uploads")),
    )
    for columns in (("installation_id", "platform_key"), ("installation_id", "status")):
        op.create_index(op.f(f"ix_file_uploads_{'_'.join(columns)}"), "file_uploads", list(columns))
    op.create_index(
        op.f("ix_file_uploads_installation_id_file_id"),
        "file_uploads",
        ["installation_id", "file_id"],
    )

    op.create_table(
        "file_imports",
        sa.Column("installation_id", ID, nullable=False),
        sa.Column("file_id", sa.BigInteger(), nullable=False),
        sa.Column("platform_key", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        _time("imported_at"),
        _installation_fk("file_imports"),
        sa.PrimaryKeyConstraint("installation_id", "file_id", name=op.f("pk_file_imports")),
    )

    op.create_table(
        "file_runs",
        sa.Column("id", ID, nullable=False),
        sa.Column("installation_id", ID, nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        _time("started_at"),
        _time("finished_at", nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("counts", JSON, nullable=False),
        sa.Column("message", sa.String(length=1000), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'failed', 'needs_reconnect')",
            name=op.f("ck_file_runs_status"),
        ),
        sa.CheckConstraint("direction IN ('push', 'pull')", name=op.f("ck_file_runs_direction")),
        _installation_fk("file_runs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_runs")),
    )
    op.create_index(
        op.f("ix_file_runs_installation_id_started_at"),
        "file_runs",
        ["installation_id", "started_at"],
    )


def downgrade() -> None:
    for table in ("file_runs", "file_imports", "file_uploads", "file_folders"):
        op.drop_table(table)
