"""`safe_return_path`: same-origin relative paths only (the web corpus is in test_oauth_attacks)."""

from __future__ import annotations

import pytest

from chimplink.web.redirects import safe_return_path
from tests.web.test_oauth_attacks import OPEN_REDIRECTS


@pytest.mark.parametrize(
    "path", ["/", "/installations/abc/audiences", "/?from=settings", "/a-b_c.d~e", "/%7Euser"]
)
def test_plain_paths_are_kept_as_they_are(path: str) -> None:
    assert safe_return_path(path) == path


@pytest.mark.parametrize("payload", OPEN_REDIRECTS)
def test_everything_else_is_refused(payload: str) -> None:
    with pytest.raises(ValueError, match="same-origin"):
        safe_return_path(payload)
