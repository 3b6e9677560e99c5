"""The File Manager (`/file-manager/files`, `/file-manager/folders`), REFERENCE.md §9."""

from chimplink.emulator.file_manager.routes import public_routes, routes

__all__ = ["public_routes", "routes"]
