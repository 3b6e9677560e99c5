"""Audience members: CRUD, upsert, archive, permanent delete, tags, events,
batch subscribe, and the subscriber actions of the control plane (REFERENCE.md §8)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chimplink.emulator.members.control import count_subscribed
from chimplink.emulator.members.routes import control_routes, routes

if TYPE_CHECKING:
    from chimplink.emulator.app import EmulatorApp


def install(app: EmulatorApp) -> None:
    """Count subscribed contacts for the root's `total_subscribers`."""
    app.subscriber_counters.append(count_subscribed)


__all__ = ["control_routes", "install", "routes"]
