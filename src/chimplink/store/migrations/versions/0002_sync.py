"""Outbound sync: per-installation settings, per-record state, suppressions, checkpoints, runs.

Revision ID: 0002_sync
Revises: 0001
Create Date: 2025-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_sync"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(length=36)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


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
        "sync_configs",
        sa.Column("installation_id", ID, nullable=False),
        sa.Column("list_id", sa.String(length=64), nullable=False),
        sa.Column("field_map", JSON, nullable=False),
        sa.Column("field_types", JSON, nullable=False),
        sa.Column("audience_double_optin", sa.Boolean(), nullable=False),
        sa.Column("sync_labels", sa.Boolean(), nullable=False),
        sa.Column("label_tags", JSON, nullable=True),
        sa.Column("managed_tags", JSON, nullable=False),
        sa.Column("no_consent", sa.String(length=20), nullable=False),
        sa.Column("double_optin", sa.Boolean(), nullable=False),
        sa.Column("erase_permanently", sa.Boolean(), nullable=False),
        sa.Column("plan_contact_limit", sa.Integer(), nullable=True),
        _time("created_at"),
        _time("updated_at"),
        sa.CheckConstraint(
            "no_consent IN ('transactional', 'skip')", name=op.f("ck_sync_configs_no_consent")
        ),
        _installation_fk("sync_configs"),
        sa.PrimaryKeyConstraint("installation_id", name=op.f("pk_sync_configs")),
    )

    op.create_table(
        "sync_records",
        sa.Column("installation_id", ID, nullable=False),
        sa.Column("platform_key", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("subscriber_hash", sa.String(length=32), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("tags", JSON, nullable=False),
        _time("updated_at"),
        sa.CheckConstraint(
            "outcome IN ('synced', 'failed', 'parked', 'skipped')",
            name=op.f("ck_sync_records_outcome"),
        ),
        _installation_fk("sync_records"),
        sa.PrimaryKeyConstraint("installation_id", "platform_key", name=op.f("pk_sync_records")),
    )
    op.create_index(
        op.f("ix_sync_records_installation_id_subscriber_hash"),
        "sync_records",
        ["installation_id", "subscriber_hash"],
    )
    op.create_index(
        op.f("ix_sync_records_installation_id_outcome"),
        "sync_records",
        ["installation_id", "outcome"],
    )

    op.create_table(
        "sync_suppressions",
        sa.Column("installation_id", ID, nullable=False),
        sa.Column("subscriber_hash", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        _time("created_at"),
        _installation_fk("sync_suppressions"),
        sa.PrimaryKeyConstraint(
            "installation_id", "subscriber_hash", name=op.f("pk_sync_suppressions")
        ),
    )

    op.create_table(
        "sync_checkpoints",
        sa.Column("installation_id", ID, nullable=False),
        sa.Column("stream", sa.String(length=40), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=False),
        _time("updated_at"),
        _installation_fk("sync_checkpoints"),
        sa.PrimaryKeyConstraint("installation_id", "stream", name=op.f("pk_sync_checkpoints")),
    )

    op.create_table(
        "sync_runs",
        sa.Column("id", ID, nullable=False),
        sa.Column("installation_id", ID, nullable=False),
        _time("started_at"),
        _time("finished_at", nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("counts", JSON, nullable=False),
        sa.Column("message", sa.String(length=1000), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'failed', 'needs_reconnect')",
            name=op.f("ck_sync_runs_status"),
        ),
        _installation_fk("sync_runs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    op.create_index(
        op.f("ix_sync_runs_installation_id_started_at"),
        "sync_runs",
        ["installation_id", "started_at"],
    )


def downgrade() -> None:
    for table in (
        "sync_runs",
        "sync_checkpoints",
        "sync_suppressions",
        "sync_records",
        "sync_configs",
    ):
        op.drop_table(table)
