"""How fast does a push of photos go, and does its memory grow with the number of photos?

    python -m benchmarks.files_push [--photos 1000] [--photo-kb 200] [--small 100]

Against the served emulator with Mailchimp's shape (`--latency-ms 150
--latency-per-item-ms 4 --max-connections 10`), a SQLite store in a temp dir,
and the demo platform's photo library filled with N generated photos of about
200 KB (noise, so the size holds whatever the format; generating them is not
timed). Each push runs `push_photos` in a child process of its own, so its
wall time, CPU time and peak RSS (VmHWM) are its own.

1. the push of N photos: wall time versus the limit N uploads ÷ 10
   connections × latency, where one upload's latency is 150 ms + 1 item × 4 ms
   = 154 ms (the emulator counts one item for a body with no member list);
   goal ≤ 1.3×;
2. the same push with `--small` photos, in a fresh account: peak RSS of the
   large push versus the small one (goal: independent of the number of
   photos, ≤ 1.2×: each of the 10 workers holds one photo at a time);
3. a second push of the N photos, unchanged: no upload at all.

Uploads are counted by the emulator (`GET /_emulator/stats`), per account.
Prints the figures and writes benchmarks/results/files_push.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks._common import emulator_process, write_result

LATENCY_MS = 150.0
PER_ITEM_MS = 4.0
CONNECTIONS = 10
UPLOAD = "POST /file-manager/files"
ROOT = Path(__file__).resolve().parent.parent
EMULATOR_FLAGS = (
    "--latency-ms",
    str(LATENCY_MS),
    "--latency-per-item-ms",
    str(PER_ITEM_MS),
    "--max-connections",
    str(CONNECTIONS),
)


def limit_seconds(photos: int) -> float:
    """The floor Mailchimp's limits put on a push: one upload per call, 10 at a time."""
    return photos / CONNECTIONS * (LATENCY_MS + PER_ITEM_MS) / 1000


def _peak_rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


# -- the child: one push in its own process ----------------------------------------------


async def _child(args: argparse.Namespace) -> dict[str, Any]:
    from chimplink.mailchimp import LocalLimiter, MailchimpClient
    from chimplink.platforms.demo import DemoPlatform
    from chimplink.store.db import make_engine, make_session_factory
    from chimplink.sync.files import FileOptions, push_photos

    engine = make_engine(args.database)
    sessions = make_session_factory(engine)
    try:
        async with (
            await DemoPlatform.open(args.platform) as platform,
            httpx.AsyncClient(
                timeout=httpx.Timeout(125.0, connect=10.0),
                limits=httpx.Limits(
                    max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS
                ),
            ) as http,
        ):
            client = MailchimpClient(
                access_token=args.token,
                base_url=args.api,
                account_key=args.installation,
                http_client=http,
                limiter=LocalLimiter(limit=CONNECTIONS),
            )
            cpu = time.process_time()
            wall = time.perf_counter()
            report = await push_photos(
                sessions=sessions,
                installation_id=args.installation,
                client=client,
                library=platform.connector(),
                options=FileOptions(),
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


# -- the parent -----------------------------------------------------------------------------


def _uploads(http: httpx.Client, account_id: str) -> int:
    stats = http.get("/_emulator/stats").json()["accounts"].get(account_id, {})
    return sum(stats.get("requests", {}).get(UPLOAD, {}).values())


async def _install(database: str, info: dict[str, Any]) -> str:
    from chimplink.store.crypto import TokenCipher
    from chimplink.store.db import make_engine, make_session_factory
    from chimplink.store.installations import save_installation
    from chimplink.store.tenants import ensure_tenant

    engine = make_engine(database)
    try:
        async with make_session_factory(engine).begin() as session:
            tenant = await ensure_tenant(session=session, external_id=info["account_id"])
            saved = await save_installation(
                session=session,
                cipher=TokenCipher([TokenCipher.generate_key()]),
                tenant_id=tenant.id,
                account_id=info["account_id"],
                login_id=info["login_id"],
                login_email="owner@bench-photos.example",
                account_name="Bench Photos",
                dc=info["dc"],
                api_base=info["api_endpoint"],
                access_token=info["access_token"],
            )
            return saved.installation.id
    finally:
        await engine.dispose()


async def _library(path: Path, photos: int, photo_bytes: int) -> int:
    from chimplink.platforms.demo import DemoPlatform

    async with await DemoPlatform.create(
        path, contacts=0, photos=photos, photo_bytes=photo_bytes
    ) as platform:
        found = await platform.photos.find(limit=photos)
    return sum(p.size for p in found)


def _setup(url: str, directory: Path, *, photos: int, photo_bytes: int) -> dict[str, Any]:
    """A fresh emulator account, a migrated SQLite store with its installation, a library."""
    from chimplink.store.migrate import upgrade

    with httpx.Client(base_url=url, timeout=30) as http:
        info = http.post("/_emulator/accounts", json={"account_name": "Bench Photos"}).json()
    database = f"sqlite+aiosqlite:///{directory / 'chimplink.db'}"
    upgrade(database)
    platform = directory / "platform.db"
    total_bytes = asyncio.run(_library(platform, photos, photo_bytes))
    return {
        **info,
        "database": database,
        "platform": str(platform),
        "installation_id": asyncio.run(_install(database, info)),
        "total_bytes": total_bytes,
    }


def _push(env: dict[str, Any], url: str) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.files_push",
        "--child",
        "--database", env["database"],
        "--platform", env["platform"],
        "--api", url,
        "--token", env["access_token"],
        "--installation", env["installation_id"],
    ]  # fmt: skip
    with httpx.Client(base_url=url, timeout=30) as http:
        before = _uploads(http, env["account_id"])
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        after = _uploads(http, env["account_id"])
    if done.returncode != 0:
        raise RuntimeError(f"push child failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["uploads"] = after - before
    return result


def _run(photos: int, small: int, photo_bytes: int) -> dict[str, Any]:
    with emulator_process(*EMULATOR_FLAGS) as served:
        with tempfile.TemporaryDirectory(prefix="chimplink-bench-") as directory:
            env = _setup(served.url, Path(directory), photos=photos, photo_bytes=photo_bytes)
            emulator_cpu = served.cpu_seconds()
            large = _push(env, served.url)
            emulator_cpu = served.cpu_seconds() - emulator_cpu
            again = _push(env, served.url)
        with tempfile.TemporaryDirectory(prefix="chimplink-bench-") as directory:
            small_env = _setup(served.url, Path(directory), photos=small, photo_bytes=photo_bytes)
            lesser = _push(small_env, served.url)
    limit = limit_seconds(photos)
    return {
        "photos": photos,
        "photo_bytes_mean": round(env["total_bytes"] / photos),
        "push": {
            "status": large["status"],
            "uploaded": large["counts"]["uploaded"],
            "uploads_seen_by_emulator": large["uploads"],
            "megabytes": round(env["total_bytes"] / 1e6, 1),
            "wall_s": large["wall_s"],
            "latency_per_upload_ms": LATENCY_MS + PER_ITEM_MS,
            "limit_s": round(limit, 3),
            "wall_over_limit": round(large["wall_s"] / limit, 3),
            "wall_over_limit_goal": 1.3,
            "photos_per_s": round(photos / large["wall_s"], 1),
            "cpu_s": large["cpu_s"],
            "cpu_ms_per_photo": round(large["cpu_s"] / photos * 1000, 2),
            "emulator_cpu_s": round(emulator_cpu, 2),
            "peak_rss_mb": round(large["peak_rss_kb"] / 1024, 1),
        },
        "push_unchanged": {
            "status": again["status"],
            "unchanged": again["counts"]["unchanged"],
            "uploads": again["uploads"],
            "wall_s": again["wall_s"],
        },
        "rss": {
            "small_photos": small,
            "small_mb": round(lesser["peak_rss_kb"] / 1024, 1),
            "small_status": lesser["status"],
            "large_photos": photos,
            "large_mb": round(large["peak_rss_kb"] / 1024, 1),
            "ratio": round(large["peak_rss_kb"] / max(lesser["peak_rss_kb"], 1), 3),
            "ratio_goal": 1.2,
        },
    }


def _print(result: dict[str, Any]) -> None:
    push = result["push"]
    print(
        f"push of {result['photos']:,} photos of ~{result['photo_bytes_mean'] / 1000:.0f} KB "
        f"({push['megabytes']:,.0f} MB, {push['status']})"
    )
    print(
        f"  uploads           {push['uploads_seen_by_emulator']:>10,}   "
        f"(chimplink counted {push['uploaded']:,})"
    )
    print(
        f"  wall time         {push['wall_s']:>10.1f} s  limit {push['limit_s']:.1f} s "
        f"({result['photos']:,} ÷ {CONNECTIONS} × {push['latency_per_upload_ms']:.0f} ms) "
        f"→ {push['wall_over_limit']:.2f}× (goal ≤ 1.3×)"
    )
    print(f"  photos/s          {push['photos_per_s']:>10,.1f}")
    print(
        f"  chimplink CPU     {push['cpu_s']:>10.1f} s  = {push['cpu_ms_per_photo']:.1f} ms "
        f"per photo; emulator CPU {push['emulator_cpu_s']:.1f} s"
    )
    again = result["push_unchanged"]
    print(
        f"second push, unchanged: {again['uploads']} uploads, {again['unchanged']:,} unchanged, "
        f"{again['wall_s']:.1f} s"
    )
    rss = result["rss"]
    print(
        f"peak RSS: {rss['small_mb']:.1f} MB at {rss['small_photos']:,} photos, "
        f"{rss['large_mb']:.1f} MB at {rss['large_photos']:,} → {rss['ratio']:.2f}× "
        "(goal: independent of the number of photos, ≤ 1.2×)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--photos", type=int, default=1_000, help="photos in the large push")
    parser.add_argument("--photo-kb", type=int, default=200, help="size of each photo (KB)")
    parser.add_argument("--small", type=int, default=100, help="photos in the RSS comparison")
    # child mode (one push in its own process)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--platform", help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--installation", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_child(args))))
        return
    if args.photos < 1 or args.small < 1 or args.photo_kb < 1:
        parser.error("--photos, --small and --photo-kb must be at least 1")
    result = _run(args.photos, args.small, args.photo_kb * 1000)
    _print(result)
    path = write_result("files_push", result)
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
