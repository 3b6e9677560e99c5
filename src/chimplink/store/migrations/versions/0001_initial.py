"""Installations: tenants, installations, encrypted secrets, OAuth states, remote webhooks,
pending remote clean-ups, the API-call log and the audit log.

Revision ID: 0001
Revises:
Create Date: 2025-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(length=36)
KEY_ID = sa.String(length=16)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", ID, nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("external_id", name=op.f("uq_tenants_external_id")),
    )

    op.create_table(
        "installations",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("login_id", sa.String(length=64), nullable=False),
        sa.Column("login_email", sa.String(length=320), nullable=False),
        sa.Column("account_name", sa.String(length=255), nullable=False),
        sa.Column("dc", sa.String(length=32), nullable=False),
        sa.Column("api_base", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        _time("last_used_at", nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'needs_reconnect', 'uninstalled')",
            name=op.f("ck_installations_status"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_installations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installations")),
        sa.UniqueConstraint(
            "tenant_id", "account_id", name=op.f("uq_installations_tenant_id_account_id")
        ),
    )
    op.create_index(op.f("ix_installations_tenant_id"), "installations", ["tenant_id"])

    op.create_table(
        "installation_secrets",
        sa.Column("installation_id", ID, nullable=False),
        sa.Column("token_ciphertext", sa.Text(), nullable=False),
        sa.Column("token_key_id", KEY_ID, nullable=False),
        sa.Column("signing_secret_ciphertext", sa.Text(), nullable=True),
        sa.Column("signing_secret_key_id", KEY_ID, nullable=True),
        _time("updated_at"),
        sa.ForeignKeyConstraint(
            ["installation_id"],
            ["installations.id"],
            name=op.f("fk_installation_secrets_installation_id_installations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("installation_id", name=op.f("pk_installation_secrets")),
    )

    op.create_table(
        "oauth_states",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("code_verifier_ciphertext", sa.Text(), nullable=False),
        sa.Column("code_verifier_key_id", KEY_ID, nullable=False),
        sa.Column("return_to", sa.String(length=2048), nullable=False),
        _time("created_at"),
        _time("expires_at"),
        _time("used_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_oauth_states_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_oauth_states")),
    )
    op.create_index(op.f("ix_oauth_states_expires_at"), "oauth_states", ["expires_at"])
    op.create_index(op.f("ix_oauth_states_tenant_id"), "oauth_states", ["tenant_id"])

    op.create_table(
        "remote_webhooks",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("installation_id", ID, nullable=False),
        sa.Column("list_id", sa.String(length=64), nullable=False),
        sa.Column("webhook_id", sa.String(length=64), nullable=False),
        _time("created_at"),
        sa.ForeignKeyConstraint(
            ["installation_id"],
            ["installations.id"],
            name=op.f("fk_remote_webhooks_installation_id_installations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remote_webhooks")),
        sa.UniqueConstraint(
            "installation_id",
            "list_id",
            "webhook_id",
            name=op.f("uq_remote_webhooks_installation_id_list_id_webhook_id"),
        ),
    )
    op.create_index(
        op.f("ix_remote_webhooks_installation_id"), "remote_webhooks", ["installation_id"]
    )

    op.create_table(
        "pending_cleanups",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=True),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("api_base", sa.String(length=255), nullable=False),
        sa.Column("list_id", sa.String(length=64), nullable=False),
        sa.Column("webhook_id", sa.String(length=64), nullable=False),
        sa.Column("token_ciphertext", sa.Text(), nullable=False),
        sa.Column("token_key_id", KEY_ID, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("next_attempt_at"),
        _time("give_up_at"),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_cleanups")),
    )
    op.create_index(
        op.f("ix_pending_cleanups_next_attempt_at"), "pending_cleanups", ["next_attempt_at"]
    )

    op.create_table(
        "api_calls",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("installation_id", ID, nullable=True),
        sa.Column("operation", sa.String(length=200), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        _time("at"),
        sa.ForeignKeyConstraint(
            ["installation_id"],
            ["installations.id"],
            name=op.f("fk_api_calls_installation_id_installations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_calls")),
    )
    op.create_index(op.f("ix_api_calls_at_installation_id"), "api_calls", ["at", "installation_id"])
    op.create_index(op.f("ix_api_calls_installation_id"), "api_calls", ["installation_id"])

    op.create_table(
        "audit_log",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        _time("at"),
        sa.Column("tenant_id", ID, nullable=True),
        sa.Column("installation_id", ID, nullable=True),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index(op.f("ix_audit_log_installation_id"), "audit_log", ["installation_id"])
    op.create_index(op.f("ix_audit_log_tenant_id"), "audit_log", ["tenant_id"])


def downgrade() -> None:
    for table in (
        "audit_log",
        "api_calls",
        "pending_cleanups",
        "remote_webhooks",
        "oauth_states",
        "installation_secrets",
        "installations",
        "tenants",
    ):
        op.drop_table(table)
