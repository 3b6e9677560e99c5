"""Emulated resource group: merge_fields (being built; see the issue)."""

from chimplink.emulator.routing import Route

routes: list[Route] = []
