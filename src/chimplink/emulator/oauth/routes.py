"""URL tables of login.mailchimp.com (mounted under /oauth2) and of its control route."""

from chimplink.emulator.oauth import handlers
from chimplink.emulator.routing import Route

oauth_routes = [
    Route("GET", "/authorize", handlers.authorize_page),
    Route("POST", "/authorize", handlers.authorize_decision),
    Route("POST", "/token", handlers.token),
    Route("GET", "/metadata", handlers.metadata),
]

control_routes = [
    Route("GET", "/oauth-stats", handlers.oauth_stats),
]
