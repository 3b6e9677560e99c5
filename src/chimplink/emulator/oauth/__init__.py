"""OAuth 2 as login.mailchimp.com does it (REFERENCE.md §3), under `/oauth2`.

    GET  /oauth2/authorize?response_type=code&client_id=…&redirect_uri=…&state=…
         The consent page: names the application, lists the emulator's accounts,
         Allow / Deny. An unknown client, a redirect_uri not registered exactly
         (string equality), a repeated parameter or a response_type other than
         `code` get a 400 HTML page and no redirect.
         For scripted flows, `account_id=<id>` or `login_hint=<email>` in the
         query preselects the account.
    POST /oauth2/authorize   (the consent form, urlencoded)
         Fields: response_type, client_id, redirect_uri, state (if sent),
         decision=allow|deny, account_id (or login_hint=<email>). A script can
         post these directly, without loading the page. Allow → 302 to the
         redirect_uri with `code` and the same `state`; Deny → 302 with
         `error=access_denied` and the same `state`.
    POST /oauth2/token       (urlencoded: grant_type=authorization_code, client_id,
         client_secret, redirect_uri, code) → {"access_token", "expires_in": 0,
         "scope": null}, or an RFC 6749 error. Codes are single-use and live
         `code_ttl_s` (30 s); a second use is refused and revokes the token the
         code gave.
    GET  /oauth2/metadata    (`Authorization: OAuth <token>`, Bearer accepted)
         → dc, role, accountname, user_id, login{…}, login_url, api_endpoint
         (`{emulator}/{dc}`); a bad token gets 200 {"error": "invalid_token"}.

Control plane: `GET /_emulator/oauth-stats` → per registered client,
`token_requests` (every token request naming it, whatever the outcome),
`codes_issued` and `tokens_issued`, so a test can prove from the emulator's
side that a client made no token request (e.g. after a forged `state`).
"""

from chimplink.emulator.oauth.routes import control_routes, oauth_routes
from chimplink.emulator.routing import Route

# This package adds no Marketing API operations.
routes: list[Route] = []

__all__ = ["control_routes", "oauth_routes", "routes"]
