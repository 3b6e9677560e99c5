"""Platforms for the CLI tests, loaded through CHIMPLINK_CONNECTOR=python:<module>:<function>."""

from __future__ import annotations

from tests.sync.connector import MemoryConnector


def contacts_only(tenant_id: str) -> MemoryConnector:
    """A platform with contacts and no photo library."""
    return MemoryConnector()
