"""URL table of the API root."""

from chimplink.emulator.root import handlers
from chimplink.emulator.routing import Route

routes = [
    Route("GET", "/", handlers.get_root),
    Route("GET", "/ping", handlers.ping),
]
