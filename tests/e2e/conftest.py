"""The emulator on a real socket, for every end-to-end test (see _stack.py for the rest)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chimplink.emulator import create_app as create_emulator
from chimplink.emulator.testing import ServedEmulator, serve


@pytest.fixture
def emulator() -> Iterator[ServedEmulator]:
    with serve(create_emulator()) as served:
        yield served
