"""Batch operations (`/batches`) and batch webhooks (`/batch-webhooks`), REFERENCE.md §7."""

from chimplink.emulator.batches.routes import control_routes, public_routes, routes

__all__ = ["control_routes", "public_routes", "routes"]
