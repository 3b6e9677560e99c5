"""URL tables of members: the API (incl. batch subscribe) and the control plane."""

from chimplink.emulator.members import batch, control, handlers
from chimplink.emulator.routing import Route

_MEMBER = "/lists/{list_id}/members/{subscriber_hash}"

routes = [
    Route("POST", "/lists/{list_id}", batch.batch_subscribe),
    Route("GET", "/lists/{list_id}/members", handlers.list_members),
    Route("POST", "/lists/{list_id}/members", handlers.create_member),
    Route("GET", _MEMBER, handlers.get_member),
    Route("PUT", _MEMBER, handlers.upsert_member),
    Route("PATCH", _MEMBER, handlers.update_member),
    Route("DELETE", _MEMBER, handlers.archive_member),
    Route("POST", f"{_MEMBER}/actions/delete-permanent", handlers.delete_permanent),
    Route("GET", f"{_MEMBER}/tags", handlers.list_tags),
    Route("POST", f"{_MEMBER}/tags", handlers.update_tags),
    Route("GET", f"{_MEMBER}/events", handlers.list_events),
    Route("POST", f"{_MEMBER}/events", handlers.create_event),
]

control_routes = [
    Route("POST", f"{_MEMBER}/actions", control.subscriber_action),
]
