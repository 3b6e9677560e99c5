"""Emulated resource group: webhooks (being built; see the issue)."""

from chimplink.emulator.routing import Route

routes: list[Route] = []
