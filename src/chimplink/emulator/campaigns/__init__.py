"""Emulated resource group: campaigns (being built; see the issue)."""

from chimplink.emulator.routing import Route

routes: list[Route] = []
