"""URL tables of batches: the API, the control plane and the public results URL."""

from chimplink.emulator.batches import handlers
from chimplink.emulator.routing import Route

routes = [
    Route("POST", "/batches", handlers.create_batch),
    Route("GET", "/batches", handlers.list_batches),
    Route("GET", "/batches/{batch_id}", handlers.get_batch),
    Route("DELETE", "/batches/{batch_id}", handlers.delete_batch),
    Route("POST", "/batch-webhooks", handlers.create_webhook),
    Route("GET", "/batch-webhooks", handlers.list_webhooks),
    Route("GET", "/batch-webhooks/{batch_webhook_id}", handlers.get_webhook),
    Route("PATCH", "/batch-webhooks/{batch_webhook_id}", handlers.update_webhook),
    Route("DELETE", "/batch-webhooks/{batch_webhook_id}", handlers.delete_webhook),
]

control_routes = [
    Route("POST", "/batches/{batch_id}/advance", handlers.advance_batch),
    Route("GET", "/batch-webhook-deliveries", handlers.list_deliveries),
]

public_routes = [
    Route("GET", "/batch-results/{archive_name}", handlers.download_results),
]
