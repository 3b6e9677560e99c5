"""The outbound sync engine: platform contacts → Mailchimp audience members.

Start with `run_sync` (engine.py). The parts, each in its own module:
`streams` (reading the platform after a checkpoint, in chunks), `mapping`
(a contact → the member payload; merge fields), `planner` (content hashes
against stored records: what to send), `runner` (chunks to Mailchimp,
outcomes and checkpoints to the database), `classify` (every failure → what
to do next). Imports nothing from `web/`.
"""

from chimplink.sync.classify import Action, Decision, Reason, classify
from chimplink.sync.engine import SyncNotConfigured, run_sync
from chimplink.sync.mapping import (
    MappingError,
    MemberPayload,
    MemberPolicy,
    MergeFieldPlan,
    ResolvedField,
    Skip,
    SyncConfigError,
    build_member,
    convert_value,
    derive_tag,
    ensure_merge_fields,
    policy_from_config,
)
from chimplink.sync.planner import Kind, PlannedItem, contact_hash, content_hash, plan_chunk
from chimplink.sync.report import PlannedChange, Progress, ProgressCallback, SyncOptions, SyncReport
from chimplink.sync.streams import CONTACTS, ERASURES, CountingConnector

__all__ = [
    "CONTACTS",
    "ERASURES",
    "Action",
    "CountingConnector",
    "Decision",
    "Kind",
    "MappingError",
    "MemberPayload",
    "MemberPolicy",
    "MergeFieldPlan",
    "PlannedChange",
    "PlannedItem",
    "Progress",
    "ProgressCallback",
    "Reason",
    "ResolvedField",
    "Skip",
    "SyncConfigError",
    "SyncNotConfigured",
    "SyncOptions",
    "SyncReport",
    "build_member",
    "classify",
    "contact_hash",
    "content_hash",
    "convert_value",
    "derive_tag",
    "ensure_merge_fields",
    "plan_chunk",
    "policy_from_config",
    "run_sync",
]
