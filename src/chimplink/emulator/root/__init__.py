"""The API root (`GET /`: the account) and `GET /ping`."""

from chimplink.emulator.root.routes import routes

__all__ = ["routes"]
