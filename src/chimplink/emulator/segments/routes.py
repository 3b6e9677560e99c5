"""URL table of interest categories, interests, segments, segment members and tag search."""

from chimplink.emulator.routing import Route
from chimplink.emulator.segments import handlers
from chimplink.emulator.segments import interest_handlers as interests

_CATEGORIES = "/lists/{list_id}/interest-categories"
_CATEGORY = _CATEGORIES + "/{interest_category_id}"
_INTERESTS = _CATEGORY + "/interests"
_INTEREST = _INTERESTS + "/{interest_id}"
_SEGMENTS = "/lists/{list_id}/segments"
_SEGMENT = _SEGMENTS + "/{segment_id}"

routes = [
    Route("GET", _CATEGORIES, interests.list_categories),
    Route("POST", _CATEGORIES, interests.create_category),
    Route("GET", _CATEGORY, interests.get_category),
    Route("PATCH", _CATEGORY, interests.update_category),
    Route("DELETE", _CATEGORY, interests.delete_category),
    Route("GET", _INTERESTS, interests.list_interests),
    Route("POST", _INTERESTS, interests.create_interest),
    Route("GET", _INTEREST, interests.get_interest),
    Route("PATCH", _INTEREST, interests.update_interest),
    Route("DELETE", _INTEREST, interests.delete_interest),
    Route("GET", _SEGMENTS, handlers.list_segments),
    Route("POST", _SEGMENTS, handlers.create_segment),
    Route("GET", _SEGMENT, handlers.get_segment),
    # POST on a segment is Mailchimp's "batch add or remove members".
    Route("POST", _SEGMENT, handlers.batch_members),
    Route("PATCH", _SEGMENT, handlers.update_segment),
    Route("DELETE", _SEGMENT, handlers.delete_segment),
    Route("GET", _SEGMENT + "/members", handlers.list_segment_members),
    Route("POST", _SEGMENT + "/members", handlers.add_segment_member),
    Route("DELETE", _SEGMENT + "/members/{subscriber_hash}", handlers.remove_segment_member),
    Route("GET", "/lists/{list_id}/tag-search", handlers.search_tags),
]
