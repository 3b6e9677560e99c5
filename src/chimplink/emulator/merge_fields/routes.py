"""URL table of merge fields (audience fields)."""

from chimplink.emulator.merge_fields import handlers
from chimplink.emulator.routing import Route

routes = [
    Route("GET", "/lists/{list_id}/merge-fields", handlers.list_fields),
    Route("POST", "/lists/{list_id}/merge-fields", handlers.create_field),
    Route("GET", "/lists/{list_id}/merge-fields/{merge_id}", handlers.get_field),
    Route("PATCH", "/lists/{list_id}/merge-fields/{merge_id}", handlers.update_field),
    Route("DELETE", "/lists/{list_id}/merge-fields/{merge_id}", handlers.delete_field),
]
