"""The public API of `chimplink.sync` is explicit; this guards it against accidents."""

from __future__ import annotations

import chimplink.sync as sync

EXPECTED = {
    # running
    "run_sync",
    "SyncOptions",
    "SyncReport",
    "Progress",
    "ProgressCallback",
    "PlannedChange",
    "SyncNotConfigured",
    "CONTACTS",
    "ERASURES",
    "CountingConnector",
    # mapping
    "MemberPolicy",
    "MemberPayload",
    "ResolvedField",
    "MergeFieldPlan",
    "Skip",
    "MappingError",
    "SyncConfigError",
    "build_member",
    "convert_value",
    "derive_tag",
    "ensure_merge_fields",
    "policy_from_config",
    # planning
    "Kind",
    "PlannedItem",
    "content_hash",
    "contact_hash",
    "plan_chunk",
    # errors
    "Action",
    "Decision",
    "Reason",
    "classify",
}


def test_public_names() -> None:
    assert set(sync.__all__) == EXPECTED
    for name in sync.__all__:
        assert getattr(sync, name) is not None
