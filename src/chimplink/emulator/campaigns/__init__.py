"""Campaigns (create, content, send) and their reports, so reports can be synced back.

`control_routes` adds `POST /_emulator/campaigns/{campaign_id}/activity` to
record opens, clicks and bounces; `public_routes` serves sent campaigns'
archive pages.
"""

from chimplink.emulator.campaigns.routes import control_routes, public_routes, routes

__all__ = ["control_routes", "public_routes", "routes"]
