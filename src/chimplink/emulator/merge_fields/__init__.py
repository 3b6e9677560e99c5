"""Merge fields (audience fields): CRUD, types, tags, required values (REFERENCE.md §8.5)."""

from chimplink.emulator.merge_fields.routes import routes

__all__ = ["routes"]
