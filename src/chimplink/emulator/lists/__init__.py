"""Emulated resource group: lists (being built; see the issue)."""

from chimplink.emulator.routing import Route

routes: list[Route] = []
