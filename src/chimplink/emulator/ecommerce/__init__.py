"""Emulated resource group: ecommerce (being built; see the issue)."""

from chimplink.emulator.routing import Route

routes: list[Route] = []
