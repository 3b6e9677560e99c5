"""URL table of audiences (lists). Batch subscribe (`POST /lists/{list_id}`) is
declared by the members package, which owns its rules."""

from chimplink.emulator.lists import handlers
from chimplink.emulator.routing import Route

routes = [
    Route("GET", "/lists", handlers.list_lists),
    Route("POST", "/lists", handlers.create_list),
    Route("GET", "/lists/{list_id}", handlers.get_list),
    Route("PATCH", "/lists/{list_id}", handlers.update_list),
    Route("DELETE", "/lists/{list_id}", handlers.delete_list),
]
