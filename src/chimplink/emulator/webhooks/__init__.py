"""Audience webhooks: CRUD (`/lists/{list_id}/webhooks`) and their deliveries.

Creating a webhook validates its URL with a GET and returns a one-time
signing secret; audience events (`backend.ListEvent`) become form-encoded,
signed POSTs with retries (`deliveries.py`). REFERENCE.md §4.1.
"""

from chimplink.emulator.webhooks.deliveries import install
from chimplink.emulator.webhooks.routes import control_routes, routes

__all__ = ["control_routes", "install", "routes"]
