"""How fast is an initial sync, and how little does a re-sync cost?

    python -m benchmarks.initial_sync [--contacts 100000] [--rss]

Against the served emulator with Mailchimp's shape (`--latency-ms 150
--latency-per-item-ms 4 --max-connections 10`), a SQLite store in a temp dir,
and a synthetic platform that generates N contacts lazily (1,000,000 fit).
Each phase runs `run_sync` in a child process of its own, so its CPU time
(time.process_time around the run) and peak RSS (VmHWM) are its own.

1. initial sync of N contacts: API calls (goal ≤ ⌈N/500⌉ + 5), wall time versus
   the limit ⌈N/500⌉ ÷ 10 × (150 ms + 500 × 4 ms) (goal ≤ 1.2×), contacts/s,
   and chimplink's CPU seconds per 1,000 contacts;
2. re-sync with no change: incremental (from the checkpoint) and a rescan of
   every contact against the content hashes: zero write calls;
3. re-sync with 1% of the contacts changed: write calls ≤ ⌈changes/500⌉ + 2;
4. with --rss: the initial sync's peak RSS with 1,000,000 contacts versus
   100,000 (goal ≤ 1.5×). This run takes about 8 minutes more.

API calls are counted by the emulator (`GET /_emulator/stats`), per account.
Prints the figures and writes benchmarks/results/initial_sync.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from benchmarks._common import LIST_BODY, emulator_process, write_result

LATENCY_MS = 150.0
PER_ITEM_MS = 4.0
CONNECTIONS = 10
CHUNK = 500
CHANGED_EVERY = 100  # 1% of the contacts change for phase 3
ROOT = Path(__file__).resolve().parent.parent
EMULATOR_FLAGS = (
    "--latency-ms",
    str(LATENCY_MS),
    "--latency-per-item-ms",
    str(PER_ITEM_MS),
    "--max-connections",
    str(CONNECTIONS),
)
FIELD_MAP = {"first_name": "FNAME", "last_name": "LNAME", "city": "", "orders": ""}
CITIES = ("Atlanta", "Macon", "Savannah", "Athens", "Augusta", "Columbus", "Rome")


def limit_seconds(contacts: int) -> float:
    """The floor Mailchimp's limits put on an initial sync (10 connections, batches of 500)."""
    return math.ceil(contacts / CHUNK) / CONNECTIONS * (LATENCY_MS + CHUNK * PER_ITEM_MS) / 1000


# -- the synthetic platform (imported by the child only) ------------------------------


def _connector(count: int, version: int) -> Any:
    """N contacts generated from their index. Version 1 changes every 100th contact;
    changed contacts move after all others in cursor order, as with `updated_at`."""
    from chimplink.platforms import Consent, Contact, FieldSpec, FieldType

    def contact(index: int, changed: bool) -> Contact:
        return Contact(
            key=f"u{index}",
            email=f"user{index}@bench-shop.com",
            consent=Consent.WITHDRAWN if index % 20 == 0 else Consent.GRANTED,
            cursor=f"{1 if changed else 0}{index:011d}",
            fields={
                "first_name": "Sam",
                "last_name": f"Lane{index}",
                "city": "Moved" if changed else CITIES[index % len(CITIES)],
                "orders": index % 13,
            },
            labels=frozenset({"customer", "vip"} if index % 10 == 0 else {"customer"}),
        )

    def is_changed(index: int) -> bool:
        return version >= 1 and index % CHANGED_EVERY == 0

    class Synthetic:
        name = "synthetic"

        async def describe_fields(self) -> list[FieldSpec]:
            return [
                FieldSpec("first_name", FieldType.TEXT, "First name"),
                FieldSpec("last_name", FieldType.TEXT, "Last name"),
                FieldSpec("city", FieldType.TEXT, "City"),
                FieldSpec("orders", FieldType.NUMBER, "Orders"),
            ]

        def _indexes(self, after: str | None) -> Any:
            phase, position = (after[0], int(after[1:])) if after else ("0", -1)
            if phase == "0":
                for index in range(position + 1, count):
                    if not is_changed(index):
                        yield index, False
                position = -1
            if version >= 1:
                start = position + 1
                first = start + (-start % CHANGED_EVERY)
                for index in range(first, count, CHANGED_EVERY):
                    yield index, True

        async def contacts(self, *, after: str | None, page_size: int) -> AsyncIterator[list[Any]]:
            page: list[Contact] = []
            for index, changed in self._indexes(after):
                page.append(contact(index, changed))
                if len(page) == page_size:
                    yield page
                    page = []
            if page:
                yield page

        async def erasures(self, *, after: str | None, page_size: int) -> AsyncIterator[list[Any]]:
            return
            yield

        async def apply(self, change: object) -> None:
            raise NotImplementedError

        async def count_contacts(self, *, after: str | None) -> int:
            return sum(1 for _ in self._indexes(after))

    return Synthetic()


def _peak_rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


async def _child(args: argparse.Namespace) -> dict[str, Any]:
    from chimplink.mailchimp import LocalLimiter, MailchimpClient
    from chimplink.store.db import make_engine, make_session_factory
    from chimplink.store.sync_state import clear_checkpoints
    from chimplink.sync import run_sync

    engine = make_engine(args.database)
    sessions = make_session_factory(engine)
    if args.rescan:
        async with sessions.begin() as session:
            await clear_checkpoints(session=session, installation_id=args.installation)
    connector = _connector(args.contacts, args.version)
    try:
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(125.0, connect=10.0),
            limits=httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS),
        ) as http:
            client = MailchimpClient(
                access_token=args.token,
                base_url=args.api,
                account_key=args.installation,
                http_client=http,
                limiter=LocalLimiter(limit=CONNECTIONS),
            )
            cpu = time.process_time()
            wall = time.perf_counter()
            report = await run_sync(
                sessions=sessions,
                installation_id=args.installation,
                client=client,
                connector=connector,
            )
            wall = time.perf_counter() - wall
            cpu = time.process_time() - cpu
    finally:
        await engine.dispose()
    return {
        "status": report.status.value,
        "message": report.message,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "peak_rss_kb": _peak_rss_kb(),
        "counts": report.counts(),
    }


# -- the parent -------------------------------------------------------------------------


def _calls(http: httpx.Client, account_id: str) -> tuple[int, int]:
    """(all API calls, write calls) the emulator answered for the account so far."""
    stats = http.get("/_emulator/stats").json()["accounts"].get(account_id, {})
    total = writes = 0
    for operation, statuses in stats.get("requests", {}).items():
        count = sum(statuses.values())
        total += count
        if not operation.startswith("GET "):
            writes += count
    return total, writes


def _setup(url: str, directory: Path) -> dict[str, Any]:
    """An emulator account and audience; a migrated SQLite store with the installation."""
    from chimplink.store.migrate import upgrade

    with httpx.Client(base_url=url, timeout=30) as http:
        info = http.post("/_emulator/accounts", json={"account_name": "Bench Shop"}).json()
        headers = {"Authorization": f"Bearer {info['access_token']}"}
        list_id = http.post("/3.0/lists", json=LIST_BODY, headers=headers).json()["id"]
    database = f"sqlite+aiosqlite:///{directory / 'chimplink.db'}"
    upgrade(database)
    installation_id = asyncio.run(_install(database, info, list_id))
    return {**info, "list_id": list_id, "database": database, "installation_id": installation_id}


async def _install(database: str, info: dict[str, Any], list_id: str) -> str:
    from chimplink.store.crypto import TokenCipher
    from chimplink.store.db import make_engine, make_session_factory
    from chimplink.store.installations import save_installation
    from chimplink.store.sync_config import save_sync_config
    from chimplink.store.tenants import ensure_tenant

    engine = make_engine(database)
    try:
        sessions = make_session_factory(engine)
        async with sessions.begin() as session:
            tenant = await ensure_tenant(session=session, external_id="bench")
            saved = await save_installation(
                session=session,
                cipher=TokenCipher([TokenCipher.generate_key()]),
                tenant_id=tenant.id,
                account_id=info["account_id"],
                login_id="bench",
                login_email="owner@bench-shop.com",
                account_name="Bench Shop",
                dc=info["dc"],
                api_base=info["api_endpoint"],
                access_token=info["access_token"],
            )
            await save_sync_config(
                session=session,
                installation_id=saved.installation.id,
                list_id=list_id,
                field_map=FIELD_MAP,
            )
            return saved.installation.id
    finally:
        await engine.dispose()


def _phase(
    env: dict[str, Any], url: str, *, contacts: int, version: int = 0, rescan: bool = False
) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.initial_sync",
        "--child",
        "--database", env["database"],
        "--api", url,
        "--token", env["access_token"],
        "--installation", env["installation_id"],
        "--contacts", str(contacts),
        "--version", str(version),
    ]  # fmt: skip
    if rescan:
        command.append("--rescan")
    with httpx.Client(base_url=url, timeout=30) as http:
        calls_before = _calls(http, env["account_id"])
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        calls_after = _calls(http, env["account_id"])
    if done.returncode != 0:
        raise RuntimeError(f"sync child failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["api_calls"] = calls_after[0] - calls_before[0]
    result["write_calls"] = calls_after[1] - calls_before[1]
    return result


def _initial(contacts: int, *, resyncs: bool) -> dict[str, Any]:
    with (
        emulator_process(*EMULATOR_FLAGS) as served,
        tempfile.TemporaryDirectory(prefix="chimplink-bench-") as directory,
    ):
        env = _setup(served.url, Path(directory))
        emulator_cpu = served.cpu_seconds()
        first = _phase(env, served.url, contacts=contacts)
        emulator_cpu = served.cpu_seconds() - emulator_cpu
        limit = limit_seconds(contacts)
        calls_goal = math.ceil(contacts / CHUNK) + 5
        result: dict[str, Any] = {
            "contacts": contacts,
            "initial": {
                "status": first["status"],
                "created": first["counts"]["created"],
                "api_calls": first["api_calls"],
                "api_calls_goal": calls_goal,
                "write_calls": first["write_calls"],
                "wall_s": first["wall_s"],
                "limit_s": round(limit, 3),
                "wall_over_limit": round(first["wall_s"] / limit, 3),
                "wall_over_limit_goal": 1.2,
                "contacts_per_s": round(contacts / first["wall_s"], 1),
                "cpu_s": first["cpu_s"],
                "cpu_s_per_1000_contacts": round(first["cpu_s"] / contacts * 1000, 4),
                "emulator_cpu_s": round(emulator_cpu, 2),
                "peak_rss_mb": round(first["peak_rss_kb"] / 1024, 1),
            },
        }
        if not resyncs:
            return result
        unchanged = _phase(env, served.url, contacts=contacts)
        rescan = _phase(env, served.url, contacts=contacts, rescan=True)
        changed = _phase(env, served.url, contacts=contacts, version=1)
        changes = math.ceil(contacts / CHANGED_EVERY)
        result["resync_no_change"] = {
            "status": unchanged["status"],
            "read": unchanged["counts"]["read"],
            "write_calls": unchanged["write_calls"],
            "api_calls": unchanged["api_calls"],
            "wall_s": unchanged["wall_s"],
        }
        result["rescan_no_change"] = {
            "status": rescan["status"],
            "read": rescan["counts"]["read"],
            "unchanged": rescan["counts"]["unchanged"],
            "write_calls": rescan["write_calls"],
            "api_calls": rescan["api_calls"],
            "wall_s": rescan["wall_s"],
            "cpu_s_per_1000_contacts": round(rescan["cpu_s"] / contacts * 1000, 4),
        }
        result["resync_1pct_changed"] = {
            "status": changed["status"],
            "changes": changes,
            "updated": changed["counts"]["updated"],
            "write_calls": changed["write_calls"],
            "write_calls_goal": math.ceil(changes / CHUNK) + 2,
            "api_calls": changed["api_calls"],
            "wall_s": changed["wall_s"],
        }
        return result


def _print(result: dict[str, Any]) -> None:
    initial = result["initial"]
    print(f"initial sync of {result['contacts']:,} contacts ({initial['status']})")
    print(f"  API calls         {initial['api_calls']:>10,}   goal ≤ {initial['api_calls_goal']:,}")
    print(
        f"  wall time         {initial['wall_s']:>10.1f} s  limit {initial['limit_s']:.1f} s "
        f"→ {initial['wall_over_limit']:.2f}× (goal ≤ 1.2×)"
    )
    print(f"  contacts/s        {initial['contacts_per_s']:>10,.0f}")
    print(
        f"  chimplink CPU     {initial['cpu_s']:>10.1f} s  = "
        f"{initial['cpu_s_per_1000_contacts'] * 1000:.1f} ms per 1,000 contacts"
    )
    print(f"  peak RSS          {initial['peak_rss_mb']:>10.1f} MB")
    if "resync_no_change" in result:
        none = result["resync_no_change"]
        rescan = result["rescan_no_change"]
        changed = result["resync_1pct_changed"]
        print(
            f"re-sync, no change: {none['write_calls']} write calls (read {none['read']:,}); "
            f"rescan of {rescan['read']:,}: {rescan['write_calls']} write calls, "
            f"{rescan['wall_s']:.1f} s"
        )
        print(
            f"re-sync, {changed['changes']:,} changed: {changed['write_calls']} write calls "
            f"(goal ≤ {changed['write_calls_goal']}), {changed['wall_s']:.1f} s"
        )
    if "rss" in result:
        rss = result["rss"]
        print(
            f"peak RSS: {rss['small_mb']:.1f} MB at {rss['small_contacts']:,}, "
            f"{rss['large_mb']:.1f} MB at {rss['large_contacts']:,} → {rss['ratio']:.2f}× "
            "(goal ≤ 1.5×)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--rss", action="store_true", help="also compare peak RSS at 1,000,000")
    parser.add_argument("--no-resync", action="store_true", help="only the initial sync")
    # child mode (one phase in its own process)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--installation", help=argparse.SUPPRESS)
    parser.add_argument("--version", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--rescan", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_child(args))))
        return

    result = _initial(args.contacts, resyncs=not args.no_resync)
    if args.rss:
        small = result["initial"]["peak_rss_mb"]
        large_contacts = 1_000_000
        large = _initial(large_contacts, resyncs=False)["initial"]
        result["rss"] = {
            "small_contacts": args.contacts,
            "small_mb": small,
            "large_contacts": large_contacts,
            "large_mb": large["peak_rss_mb"],
            "ratio": round(large["peak_rss_mb"] / small, 3),
            "goal": 1.5,
            "large_wall_over_limit": large["wall_over_limit"],
        }
    _print(result)
    path = write_result("initial_sync", result)
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
