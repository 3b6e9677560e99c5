"""URL tables of audience webhooks (API) and their deliveries (control plane)."""

from chimplink.emulator.routing import Route
from chimplink.emulator.webhooks import handlers

routes = [
    Route("GET", "/lists/{list_id}/webhooks", handlers.list_webhooks),
    Route("POST", "/lists/{list_id}/webhooks", handlers.create_webhook),
    Route("GET", "/lists/{list_id}/webhooks/{webhook_id}", handlers.get_webhook),
    Route("PATCH", "/lists/{list_id}/webhooks/{webhook_id}", handlers.update_webhook),
    Route("DELETE", "/lists/{list_id}/webhooks/{webhook_id}", handlers.delete_webhook),
]

control_routes = [
    Route("GET", "/deliveries", handlers.list_deliveries),
    Route("POST", "/deliveries/flush", handlers.flush_deliveries),
]
