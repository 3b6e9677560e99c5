"""Sync settings per installation: audience, field mapping, tag rules, consent policy.

Written by the mapping form (UI) or the CLI, read by the sync engine at the
start of each run. Changing the audience starts the sync over: per-record
state and checkpoints describe members of the *old* audience, so they are
deleted with the change (suppressions stay: an erasure is about a person,
not an audience).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chimplink.store._common import utc
from chimplink.store.tables import SyncCheckpointRow, SyncConfigRow, SyncRecordRow

__all__ = [
    "NoConsentPolicy",
    "SyncConfig",
    "add_managed_tags",
    "get_sync_config",
    "save_resolved_mapping",
    "save_sync_config",
]


class NoConsentPolicy(StrEnum):
    """What to do with a contact without recorded marketing consent."""

    TRANSACTIONAL = "transactional"  # add as `transactional` (non-marketing) if new
    SKIP = "skip"  # do not send at all


@dataclass(frozen=True)
class SyncConfig:
    installation_id: str
    list_id: str
    field_map: Mapping[str, str]  # platform field → merge tag ("" = derive one)
    field_types: Mapping[str, str]  # merge tag → Mailchimp type, as last resolved
    audience_double_optin: bool  # the audience's own setting, as last read
    sync_labels: bool
    label_tags: Mapping[str, str] | None  # label → tag; None = every label, same name
    managed_tags: frozenset[str]
    no_consent: NoConsentPolicy
    double_optin: bool
    erase_permanently: bool
    plan_contact_limit: int | None
    created_at: datetime
    updated_at: datetime


def _config(row: SyncConfigRow) -> SyncConfig:
    return SyncConfig(
        installation_id=row.installation_id,
        list_id=row.list_id,
        field_map={str(k): str(v or "") for k, v in (row.field_map or {}).items()},
        field_types={str(k): str(v) for k, v in (row.field_types or {}).items()},
        audience_double_optin=row.audience_double_optin,
        sync_labels=row.sync_labels,
        label_tags=(
            {str(k): str(v) for k, v in row.label_tags.items()}
            if row.label_tags is not None
            else None
        ),
        managed_tags=frozenset(str(t) for t in (row.managed_tags or [])),
        no_consent=NoConsentPolicy(row.no_consent),
        double_optin=row.double_optin,
        erase_permanently=row.erase_permanently,
        plan_contact_limit=row.plan_contact_limit,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def get_sync_config(*, session: AsyncSession, installation_id: str) -> SyncConfig | None:
    row = await session.get(SyncConfigRow, installation_id, populate_existing=True)
    return _config(row) if row is not None else None


async def save_sync_config(
    *,
    session: AsyncSession,
    installation_id: str,
    list_id: str,
    field_map: Mapping[str, str] | None = None,
    sync_labels: bool = True,
    label_tags: Mapping[str, str] | None = None,
    no_consent: NoConsentPolicy | str = NoConsentPolicy.TRANSACTIONAL,
    double_optin: bool = False,
    erase_permanently: bool = False,
    plan_contact_limit: int | None = None,
    now: datetime | None = None,
) -> SyncConfig:
    """Create or replace the settings (managed tags are kept: they describe Mailchimp).

    A different `list_id` than before deletes the installation's sync records
    and checkpoints, so the next run is a first sync into the new audience.
    """
    at = utc(now)
    policy = NoConsentPolicy(no_consent)
    if plan_contact_limit is not None and plan_contact_limit < 0:
        raise ValueError("plan_contact_limit must be >= 0")
    for tag in (field_map or {}).values():
        if tag and (len(tag) > 10 or tag != tag.upper()):
            raise ValueError(f"merge tag {tag!r}: at most 10 characters, uppercase")
    row = await session.get(SyncConfigRow, installation_id, populate_existing=True)
    if row is None:
        row = SyncConfigRow(
            installation_id=installation_id,
            list_id=list_id,
            managed_tags=[],
            field_types={},
            audience_double_optin=False,
            created_at=at,
            updated_at=at,
        )
        session.add(row)
    elif row.list_id != list_id:
        await session.execute(
            delete(SyncRecordRow).where(SyncRecordRow.installation_id == installation_id)
        )
        await session.execute(
            delete(SyncCheckpointRow).where(SyncCheckpointRow.installation_id == installation_id)
        )
    row.list_id = list_id
    row.field_map = dict(field_map or {})
    row.sync_labels = sync_labels
    row.label_tags = dict(label_tags) if label_tags is not None else None
    row.no_consent = policy.value
    row.double_optin = double_optin
    row.erase_permanently = erase_permanently
    row.plan_contact_limit = plan_contact_limit
    row.updated_at = at
    await session.flush()
    return _config(row)


async def save_resolved_mapping(
    *,
    session: AsyncSession,
    installation_id: str,
    field_map: Mapping[str, str],
    field_types: Mapping[str, str],
    audience_double_optin: bool,
    now: datetime | None = None,
) -> None:
    """Store the mapping as a run resolved it at Mailchimp: the merge tags actually
    used (derived ones included), their types, and the audience's double opt-in."""
    await session.execute(
        update(SyncConfigRow)
        .where(SyncConfigRow.installation_id == installation_id)
        .values(
            field_map=dict(field_map),
            field_types=dict(field_types),
            audience_double_optin=audience_double_optin,
            updated_at=utc(now),
        )
        .execution_options(synchronize_session=False)
    )


async def add_managed_tags(
    *,
    session: AsyncSession,
    installation_id: str,
    tags: Iterable[str],
    now: datetime | None = None,
) -> frozenset[str]:
    """Remember tag names chimplink has set; returns the whole managed set."""
    wanted = set(tags)
    current = (
        await session.execute(
            select(SyncConfigRow.managed_tags).where(
                SyncConfigRow.installation_id == installation_id
            )
        )
    ).scalar_one_or_none()
    known = {str(t) for t in (current or [])}
    if wanted <= known:
        return frozenset(known)
    merged = sorted(known | wanted)
    await session.execute(
        update(SyncConfigRow)
        .where(SyncConfigRow.installation_id == installation_id)
        .values(managed_tags=merged, updated_at=utc(now))
        .execution_options(synchronize_session=False)
    )
    return frozenset(merged)
