"""Shared by the benchmarks: a served emulator in a subprocess, its CPU time, JSON output.

Benchmarks run the emulator as its own process (`chimplink emulator`), so its
CPU time can be read from /proc and the load generator does not share its core.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

RESULTS = Path(__file__).resolve().parent / "results"

# The audience every benchmark creates (POST /3.0/lists).
LIST_BODY = {
    "name": "Bench",
    "permission_reminder": "You signed up.",
    "email_type_option": False,
    "contact": {
        "company": "Bench",
        "address1": "1 Road",
        "city": "Atlanta",
        "state": "GA",
        "zip": "30308",
        "country": "US",
    },
    "campaign_defaults": {
        "from_name": "Bench",
        "from_email": "bench@bench-co.example",
        "subject": "Hi",
        "language": "en",
    },
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServedProcess:
    url: str
    port: int
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (Linux /proc)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks


@contextmanager
def emulator_process(*flags: str) -> Iterator[ServedProcess]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "chimplink.cli.main",
        "emulator",
        "--port",
        str(port),
        *flags,
    ]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{url}/_emulator/stats", timeout=1)
            break
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"emulator did not start: {err}") from None
            time.sleep(0.05)
    try:
        yield ServedProcess(url, port, proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    result = {
        "benchmark": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        **result,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2))
    return path
