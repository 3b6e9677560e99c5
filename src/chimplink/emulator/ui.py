"""Read-only HTML view of the emulator's state, /_emulator/ui (being built)."""

from chimplink.emulator.routing import Route

control_routes: list[Route] = []
