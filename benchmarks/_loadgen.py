"""A minimal HTTP/1.1 keep-alive load generator on asyncio streams.

httpx costs more CPU per request than the emulator does, so measuring the
emulator's throughput with it would measure httpx. This sends pre-built
requests over persistent connections and reads just enough of each response
(status line, Content-Length, body) to stay in step.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class Tally:
    statuses: dict[int, int] = field(default_factory=dict)

    def add(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.statuses.values())


def build_request(method: str, path: str, *, host: str, token: str, body: bytes = b"") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def connection(
    host: str, port: int, requests: list[bytes], tally: Tally, *, rounds: int = 1
) -> None:
    """Send `requests` in order, `rounds` times, over one keep-alive connection."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for _ in range(rounds):
            for request in requests:
                writer.write(request)
                tally.add(await _read_response(reader))
    finally:
        writer.close()
        await writer.wait_closed()


async def for_duration(
    host: str, port: int, request: bytes, tally: Tally, *, seconds: float
) -> None:
    """Repeat one request over one connection until `seconds` have passed."""
    loop = asyncio.get_running_loop()
    stop = loop.time() + seconds
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while loop.time() < stop:
            writer.write(request)
            tally.add(await _read_response(reader))
    finally:
        writer.close()
        await writer.wait_closed()
