"""Suite-level check: every emulated operation was shown to conform to the spec.

When the whole emulator suite runs (every test module here was collected and
no test was deselected), each API operation the emulator implements must have
had at least one success body and one error body validated against the OpenAPI
document by `tests.conformance.assert_conforms`. Otherwise the session fails,
naming the operations that lack a check.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chimplink.emulator import create_app, spec
from tests.conformance import CHECKED

_HERE = Path(__file__).parent
_state: dict[str, bool] = {"full": False}


def pytest_collection_finish(session: pytest.Session) -> None:
    modules = {Path(str(item.fspath)) for item in session.items}
    expected = set(_HERE.glob("test_*.py"))
    deselected = session.config.getoption("deselect") or session.config.getoption("keyword")
    _state["full"] = expected <= modules and not deselected


def missing_checks() -> list[str]:
    missing = []
    for route in create_app().api.routes:
        for kind in ("success", "error"):
            if (route.method, spec.shape(route.path), kind) not in CHECKED:
                missing.append(f"{route.operation} ({kind})")
    return sorted(missing)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _state["full"] or exitstatus != 0:
        return
    missing = missing_checks()
    if missing:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = "\n  ".join(missing)
        message = f"operations without a conformance check of their body:\n  {lines}"
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
