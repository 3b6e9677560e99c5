"""A faithful local Mailchimp: OAuth 2 and the Marketing API 3.0, plus a control plane.

    app = create_app(latency_ms=150)                 # an ASGI app
    httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://mc")

or, served: `chimplink emulator --port 8900`. Imports nothing else from chimplink.
"""

from chimplink.emulator.app import EmulatorApp, create_app
from chimplink.emulator.config import EmulatorConfig

__all__ = ["EmulatorApp", "EmulatorConfig", "create_app"]
