"""`chimplink demo` (what `make demo` runs): both servers come up and the printed link works."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import httpx

from chimplink.emulator.testing import free_port


def test_demo_serves_the_emulator_and_the_app_and_prints_a_working_link() -> None:
    port, emulator_port = free_port(), free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chimplink.cli.main",
            "demo",
            "--port",
            str(port),
            "--emulator-port",
            str(emulator_port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        output = ""
        link = None
        assert proc.stdout is not None
        while link is None:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, output
            output += proc.stdout.readline()
            found = re.search(r"(http://127\.0\.0\.1:\d+/platform/enter\S+)", output)
            link = found.group(1) if found else None
        while True:
            try:
                with httpx.Client(follow_redirects=True, timeout=5) as client:
                    home = client.get(link)
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert home.status_code == 200
        assert 'id="connect-button"' in home.text
        ui = httpx.get(f"http://127.0.0.1:{emulator_port}/_emulator/ui", timeout=5)
        assert "Demo Bakery" in ui.text
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert "Traceback" not in err
