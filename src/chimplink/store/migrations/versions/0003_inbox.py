"""Inbound: the webhook inbox, dead letters, and what was last seen of each member.

Revision ID: 0003_inbox
Revises: 0002_sync
Create Date: 2025-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_inbox"
down_revision: str | None = "0002_sync"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(length=36)
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
        "webhook_inbox",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("installation_id", ID, nullable=False),
        sa.Column("dedupe_key", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        _time("received_at"),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("next_attempt_at"),
        _time("processed_at", nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'processed', 'failed')", name=op.f("ck_webhook_inbox_status")
        ),
        _installation_fk("webhook_inbox"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_inbox")),
        sa.UniqueConstraint(
            "installation_id",
            "dedupe_key",
            name=op.f("uq_webhook_inbox_installation_id_dedupe_key"),
        ),
    )
    op.create_index(
        op.f("ix_webhook_inbox_installation_id_status_next_attempt_at"),
        "webhook_inbox",
        ["installation_id", "status", "next_attempt_at"],
    )
    op.create_index(
        op.f("ix_webhook_inbox_status_received_at"), "webhook_inbox", ["status", "received_at"]
    )

    op.create_table(
        "webhook_dead_letters",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("installation_id", ID, nullable=False),
        _time("received_at"),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_size", sa.Integer(), nullable=False),
        _installation_fk("webhook_dead_letters"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_dead_letters")),
    )
    op.create_index(
        op.f("ix_webhook_dead_letters_installation_id"),
        "webhook_dead_letters",
        ["installation_id"],
    )
    op.create_index(
        op.f("ix_webhook_dead_letters_received_at"), "webhook_dead_letters", ["received_at"]
    )

    op.create_table(
        "inbound_members",
        sa.Column("installation_id", ID, nullable=False),
        sa.Column("subscriber_hash", sa.String(length=32), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=True),
        _time("last_changed", nullable=True),
        _time("updated_at"),
        _installation_fk("inbound_members"),
        sa.PrimaryKeyConstraint(
            "installation_id", "subscriber_hash", name=op.f("pk_inbound_members")
        ),
    )
    op.create_index(
        op.f("ix_inbound_members_installation_id_contact_id"),
        "inbound_members",
        ["installation_id", "contact_id"],
    )


def downgrade() -> None:
    for table in ("inbound_members", "webhook_dead_letters", "webhook_inbox"):
        op.drop_table(table)
