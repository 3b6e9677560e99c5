"""How fast is the emulator? `python -m benchmarks.emulator_throughput [--seconds 5]`

1. Throughput, no latency model: GET member and PUT member requests/s that one
   emulator process (one core: it runs one event loop) serves to 64 keep-alive
   connections spread over 8 accounts (under the 10-connection limit each).
   Goal: ≥ 2,000 simple requests/s, so the emulator is never the bottleneck
   of chimplink's own benchmarks.
2. Waiting is free: with `--latency-ms 150`, 100 accounts × 10 concurrent
   connections, 5 sequential GETs each (5,000 requests). Reported: wall time
   versus the ideal 5 × 150 ms, the emulator's CPU per request versus run 1,
   and its CPU use while 1,000 requests sit in a 2-second latency.

Prints the figures and writes benchmarks/results/emulator_throughput.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import httpx

from benchmarks import _loadgen
from benchmarks._common import LIST_BODY, ServedProcess, emulator_process, write_result


def _setup(url: str, accounts: int, *, members: int) -> list[dict[str, Any]]:
    """Create accounts, one audience each, and `members` members per audience."""
    out = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for index in range(accounts):
            info = client.post(
                "/_emulator/accounts", json={"account_name": f"Bench {index}"}
            ).json()
            headers = {"Authorization": f"Bearer {info['access_token']}"}
            list_id = client.post("/3.0/lists", json=LIST_BODY, headers=headers).json()["id"]
            hashes = []
            for n in range(members):
                member = client.put(
                    f"/3.0/lists/{list_id}/members/m{index}x{n}@bench-co.example",
                    json={
                        "email_address": f"m{index}x{n}@bench-co.example",
                        "status_if_new": "subscribed",
                        "merge_fields": {"FNAME": "Bench", "LNAME": f"{n}"},
                    },
                    headers=headers,
                )
                member.raise_for_status()
                hashes.append(member.json()["id"])
            out.append({**info, "list_id": list_id, "hashes": hashes})
    return out


async def _throughput(
    served: ServedProcess, accounts: list[dict[str, Any]], *, method: str, seconds: float
) -> dict[str, Any]:
    tally = _loadgen.Tally()
    tasks = []
    host = f"127.0.0.1:{served.port}"
    for account in accounts:
        for conn in range(8):
            subscriber = account["hashes"][conn % len(account["hashes"])]
            path = f"/3.0/lists/{account['list_id']}/members/{subscriber}"
            body = b""
            if method == "PUT":
                body = json.dumps(
                    {
                        "email_address": f"m-put-{conn}@bench-co.example",
                        "status_if_new": "subscribed",
                        "merge_fields": {"FNAME": "Put", "LNAME": str(conn)},
                    }
                ).encode()
                path = f"/3.0/lists/{account['list_id']}/members/m-put-{conn}@bench-co.example"
            request = _loadgen.build_request(
                method, path, host=host, token=account["access_token"], body=body
            )
            tasks.append(
                _loadgen.for_duration("127.0.0.1", served.port, request, tally, seconds=seconds)
            )
    cpu_before = served.cpu_seconds()
    started = time.perf_counter()
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - started
    cpu = served.cpu_seconds() - cpu_before
    return {
        "requests": tally.total,
        "statuses": tally.statuses,
        "wall_s": round(wall, 3),
        "requests_per_s": round(tally.total / wall, 1),
        "emulator_cpu_s": round(cpu, 3),
        "emulator_cpu_us_per_request": round(cpu / max(tally.total, 1) * 1e6, 1),
    }


async def _latency_run(served: ServedProcess, accounts: list[dict[str, Any]]) -> dict[str, Any]:
    tally = _loadgen.Tally()
    host = f"127.0.0.1:{served.port}"
    tasks = []
    for account in accounts:
        subscriber = account["hashes"][0]
        path = f"/3.0/lists/{account['list_id']}/members/{subscriber}"
        request = _loadgen.build_request("GET", path, host=host, token=account["access_token"])
        for _ in range(10):
            tasks.append(_loadgen.connection("127.0.0.1", served.port, [request], tally, rounds=5))
    cpu_before = served.cpu_seconds()
    started = time.perf_counter()
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - started
    cpu = served.cpu_seconds() - cpu_before
    return {
        "requests": tally.total,
        "statuses": tally.statuses,
        "wall_s": round(wall, 3),
        "ideal_wall_s": 0.75,
        "wall_over_ideal": round(wall / 0.75, 2),
        "emulator_cpu_s": round(cpu, 3),
        "emulator_cpu_us_per_request": round(cpu / max(tally.total, 1) * 1e6, 1),
        "emulator_cpu_utilisation": round(cpu / wall, 3),
    }


async def _parked(served: ServedProcess, accounts: list[dict[str, Any]]) -> dict[str, Any]:
    """CPU used while 1,000 requests wait in a 2 s latency."""
    async with httpx.AsyncClient(base_url=served.url) as client:
        (await client.post("/_emulator/config", json={"latency_ms": 2000})).raise_for_status()
    tally = _loadgen.Tally()
    host = f"127.0.0.1:{served.port}"
    tasks = []
    for account in accounts:
        path = f"/3.0/lists/{account['list_id']}/members/{account['hashes'][0]}"
        request = _loadgen.build_request("GET", path, host=host, token=account["access_token"])
        for _ in range(10):
            tasks.append(
                asyncio.ensure_future(
                    _loadgen.connection("127.0.0.1", served.port, [request], tally)
                )
            )
    await asyncio.sleep(0.7)  # all connected and parked in the sleep
    before = served.cpu_seconds()
    await asyncio.sleep(1.0)
    parked_cpu = served.cpu_seconds() - before
    await asyncio.gather(*tasks)
    return {
        "parked_requests": len(tasks),
        "window_s": 1.0,
        "emulator_cpu_s": round(parked_cpu, 3),
        "statuses": tally.statuses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="duration of each throughput run"
    )
    args = parser.parse_args()
    if args.seconds <= 0:
        parser.error("--seconds must be > 0")

    with emulator_process("--max-connections", "10") as served:
        accounts = _setup(served.url, 8, members=8)
        get = asyncio.run(_throughput(served, accounts, method="GET", seconds=args.seconds))
        put = asyncio.run(_throughput(served, accounts, method="PUT", seconds=args.seconds))
    with emulator_process("--latency-ms", "150", "--max-connections", "10") as served:
        accounts = _setup(served.url, 100, members=1)
        latency = asyncio.run(_latency_run(served, accounts))
        parked = asyncio.run(_parked(served, accounts))

    result = {
        "get_member": get,
        "put_member": put,
        "latency_150ms_100x10": latency,
        "parked_1000_requests": parked,
        "goal_requests_per_s": 2000,
        "cpu_per_request_latency_vs_none": round(
            latency["emulator_cpu_us_per_request"] / get["emulator_cpu_us_per_request"], 2
        ),
    }
    path = write_result("emulator_throughput", result)
    for name, run in (("GET", get), ("PUT", put)):
        cost = run["emulator_cpu_us_per_request"]
        print(f"{name} member: {run['requests_per_s']} req/s ({cost} µs of emulator CPU each)")
    ratio = result["cpu_per_request_latency_vs_none"]
    print(
        f"150 ms latency, 100 accounts × 10 connections × 5 requests: {latency['wall_s']} s "
        f"(ideal 0.75 s, ratio {latency['wall_over_ideal']}), CPU utilisation "
        f"{latency['emulator_cpu_utilisation']:.1%}, CPU per request ×{ratio} of the no-latency run"
    )
    print(f"1,000 requests parked in latency for 1 s: {parked['emulator_cpu_s']} s of emulator CPU")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
