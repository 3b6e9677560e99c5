"""The web app: platform sign-in, connect/callback, the end user's pages, webhook receiver.

Thin handlers over `chimplink.connect` (the installation lifecycle) and
`chimplink.store`; no Mailchimp call is made here directly. Build it with
`create_app(settings)`; mint platform links with `platform_links.mint_link`.
"""

from chimplink.web.app import create_app
from chimplink.web.platform_links import mint_link, verify_link

__all__ = ["create_app", "mint_link", "verify_link"]
