"""`chimplink emulator`: flags, bad input, and a real served process."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
from typer.testing import CliRunner

from chimplink.cli.main import app
from chimplink.emulator.testing import free_port

runner = CliRunner()


def test_help_lists_every_flag_of_the_issue() -> None:
    result = runner.invoke(app, ["emulator", "--help"])
    assert result.exit_code == 0
    for flag in (
        "--host",
        "--port",
        "--latency-ms",
        "--latency-per-item-ms",
        "--max-connections",
        "--fault-rate",
        "--seed",
        "--state",
    ):
        assert flag in result.output


def test_bad_flags_are_clear_errors_without_traceback() -> None:
    for args in (
        ["emulator", "--fault-rate", "2"],
        ["emulator", "--max-connections", "0"],
        ["emulator", "--latency-ms", "-5"],
        ["emulator", "--port", "notaport"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, args
        assert "Traceback" not in result.output


def test_served_process_answers_and_stops_cleanly() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chimplink.cli.main",
            "emulator",
            "--port",
            str(port),
            "--seed-demo",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                accounts = httpx.get(f"http://127.0.0.1:{port}/_emulator/accounts", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.05)
        names = [a["account_name"] for a in accounts.json()["accounts"]]
        assert names == ["Demo Bakery"]
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert b"Traceback" not in err
    assert b"Mailchimp emulator on" in out
