"""Emulated resource group: file_manager (being built; see the issue)."""

from chimplink.emulator.routing import Route

routes: list[Route] = []
