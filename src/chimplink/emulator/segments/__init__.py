"""Emulated resource group: interest categories and interests, segments and tags.

Other resource packages use `known_interest_ids(account, list_id)` and
`require_known_interests(account, list_id, ids)` to validate a member's
`interests` keys (Mailchimp's 400 "Invalid interest ID: '<id>'.").

`drop_list(account, list_id)` forgets an audience's segments and interest
groups when the audience is deleted.

Tags are static segments: the members package's tag registry
(`MembersStore.tag_ids`) and the static segments here share one id per name
(see `models.sync_tags`).
"""

from chimplink.emulator.segments.interests import known_interest_ids, require_known_interests
from chimplink.emulator.segments.models import drop_list
from chimplink.emulator.segments.routes import routes

__all__ = ["drop_list", "known_interest_ids", "require_known_interests", "routes"]
