"""Audiences (lists): create, list, get, update, delete (REFERENCE.md §8)."""

from chimplink.emulator.lists.routes import routes

__all__ = ["routes"]
