"""An audience's `stats`, computed from its members (never stored, so they cannot drift).

One pass over the audience: `GET /lists` is not on the hot path, and every
writer (members, e-commerce customers, the control plane) stays free of
counters to maintain. Campaign figures are zero: the emulator's audiences
have no send history of their own.
"""

from __future__ import annotations

from typing import Any

from chimplink.emulator.backend import Account
from chimplink.emulator.members.models import members_of
from chimplink.emulator.merge_fields.models import merge_fields_of


def list_stats(account: Account, list_id: str) -> dict[str, Any]:
    counts = {"subscribed": 0, "unsubscribed": 0, "cleaned": 0, "archived": 0}
    last_sub = ""
    last_unsub = ""
    total = 0
    for member in members_of(account).members.get(list_id, {}).values():
        status = member.status
        total += 1
        if status in counts:
            counts[status] += 1
        if status == "subscribed" and member.timestamp_opt > last_sub:
            last_sub = member.timestamp_opt
        elif status == "unsubscribed" and member.last_changed > last_unsub:
            last_unsub = member.last_changed
    merge_field_count = len(merge_fields_of(account).fields.get(list_id, {}))
    return {
        "member_count": counts["subscribed"],
        # Every contact of the audience except archived ones (§8.1).
        "total_contacts": total - counts["archived"],
        "unsubscribe_count": counts["unsubscribed"],
        "cleaned_count": counts["cleaned"],
        "member_count_since_send": counts["subscribed"],
        "unsubscribe_count_since_send": counts["unsubscribed"],
        "cleaned_count_since_send": counts["cleaned"],
        "campaign_count": 0,
        "campaign_last_sent": "",
        "merge_field_count": merge_field_count,
        "avg_sub_rate": 0,
        "avg_unsub_rate": 0,
        "target_sub_rate": 0,
        "open_rate": 0,
        "click_rate": 0,
        "last_sub_date": last_sub,
        "last_unsub_date": last_unsub,
    }
