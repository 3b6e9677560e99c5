"""The push connector: per-tenant settings and change counter, API keys, contacts,
erasure tombstones, and the outbox of webhooks to the platform.

Revision ID: 0005_push
Revises: 0004_files
Create Date: 2025-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_push"
down_revision: str | None = "0004_files"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(length=36)
KEY_ID = sa.String(length=16)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "push_tenants",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("webhook_url", sa.String(length=2048), nullable=True),
        sa.Column("webhook_secret_ciphertext", sa.Text(), nullable=True),
        sa.Column("webhook_secret_key_id", KEY_ID, nullable=True),
        _time("created_at"),
        _time("updated_at"),
        _tenant_fk("push_tenants"),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_push_tenants")),
    )

    op.create_table(
        "push_api_keys",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        _time("created_at"),
        _time("last_used_at", nullable=True),
        _time("revoked_at", nullable=True),
        _tenant_fk("push_api_keys"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_push_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_push_api_keys_tenant_id"), "push_api_keys", ["tenant_id"])

    op.create_table(
        "push_contacts",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("consent", sa.String(length=20), nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.CheckConstraint(
            "consent IN ('granted', 'withdrawn', 'unknown')",
            name=op.f("ck_push_contacts_consent"),
        ),
        _tenant_fk("push_contacts"),
        sa.PrimaryKeyConstraint("tenant_id", "key", name=op.f("pk_push_contacts")),
        sa.UniqueConstraint("tenant_id", "seq", name=op.f("uq_push_contacts_tenant_id_seq")),
    )

    op.create_table(
        "push_erasures",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        _time("erased_at"),
        _tenant_fk("push_erasures"),
        sa.PrimaryKeyConstraint("tenant_id", "seq", name=op.f("pk_push_erasures")),
    )

    op.create_table(
        "push_deliveries",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("message_id", sa.String(length=40), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("next_attempt_at"),
        _time("created_at"),
        _time("finished_at", nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'dead')", name=op.f("ck_push_deliveries_status")
        ),
        _tenant_fk("push_deliveries"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_deliveries")),
        sa.UniqueConstraint("message_id", name=op.f("uq_push_deliveries_message_id")),
    )
    op.create_index(
        op.f("ix_push_deliveries_status_next_attempt_at"),
        "push_deliveries",
        ["status", "next_attempt_at"],
    )
    op.create_index(
        op.f("ix_push_deliveries_tenant_id_status"), "push_deliveries", ["tenant_id", "status"]
    )


def downgrade() -> None:
    for table in (
        "push_deliveries",
        "push_erasures",
        "push_contacts",
        "push_api_keys",
        "push_tenants",
    ):
        op.drop_table(table)
