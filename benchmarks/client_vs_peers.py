"""chimplink's client against the Python clients people use. `python -m benchmarks.client_vs_peers`

Options: `[--members 5000] [--peer-sample 250] [--overhead-calls 2000] [--repeats 5]`.

1. Upsert N members (default 5,000) into one audience on a served emulator
   with `--latency-ms 150 --latency-per-item-ms 4 --max-connections 10`
   (a PUT costs 154 ms, a batch subscribe of 500 costs 2,150 ms):
   (a) mailchimp3, one PUT per member, sequential (as it is used);
   (b) the official mailchimp-marketing client, one PUT per member, sequential;
   (c) chimplink `batch_subscribe(update_existing=True)` (chunks of 500,
       concurrent, under a 10-slot limiter, asking only for the outcomes);
   (d) chimplink, one PUT per member, concurrent under a 10-slot limiter.
   Each variant runs on an emptied emulator (`/_emulator/reset`) with its own
   account, so its API calls are read from the emulator's per-account stats;
   the clock runs from the first call to the last answer, after the variant
   has built its client and input. (a) and (b) are synchronous, so their time
   is linear in N: they are timed on `--peer-sample` members and extrapolated
   to N; the output and the JSON say which figures are measured and which
   extrapolated. Members are verified after each variant (read back from the
   emulator: address, status, merge fields).
   Goals (issue 3): (c) ≥ 100× faster than (a), and (c) within 1.2× of the
   limit ⌈N/500⌉ calls ÷ 10 connections × (150 ms + 500 × 4 ms) = 2.15 s.
   A reference run ("floor") sends the same batches with raw httpx: the best
   any client can do on this emulator, whose handlers share one event loop
   and, with the client, the machine's cores. After one untimed warm-up run
   each, (c) and the floor run `--repeats` times in back-to-back pairs (order
   alternating); the median run is reported, with every run's ratio to the
   limit and each pair's (c) ÷ floor.
2. The client's own overhead: on a second emulator without latency, K
   sequential GETs of one member with raw `httpx.AsyncClient` versus
   `MailchimpClient.lists.members.get` (typed result) on the same httpx client
   limited to one connection, interleaved in blocks of 100; the ratio compares
   each side's fastest block (other load on the machine only adds time), and
   the median of adjacent-block ratios is reported too. Goal: ≤ 1.3×; "met"
   when both figures are within it, "borderline" when they disagree.

Prints the figures and writes benchmarks/results/client_vs_peers.json.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import math
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import mailchimp3
import mailchimp_marketing

from benchmarks._common import LIST_BODY, ServedProcess, emulator_process, write_result
from chimplink.mailchimp import (
    BATCH_SUBSCRIBE_OUTCOME_FIELDS,
    LocalLimiter,
    MailchimpClient,
    subscriber_hash,
)

LATENCY_MS = 150.0
PER_ITEM_MS = 4.0
CONNECTIONS = 10
CHUNK = 500  # Mailchimp's batch subscribe limit
OVERHEAD_BLOCK = 100


VARIANTS = {
    "a": "mailchimp3, one PUT per member (sequential)",
    "b": "mailchimp-marketing (official), one PUT per member (sequential)",
    "c": "chimplink batch_subscribe (update_existing=True)",
    "d": f"chimplink concurrent PUTs (limiter {CONNECTIONS})",
    "floor": "reference: raw httpx, the same batch POSTs, no client",
}


# -- members ------------------------------------------------------------------------------


def email(variant: str, i: int) -> str:
    return f"{variant}{i}@bench-co.example"


def merge_fields(i: int) -> dict[str, str]:
    return {"FNAME": "Bench", "LNAME": f"N{i}"}


def put_body(variant: str, i: int) -> dict[str, Any]:
    return {
        "email_address": email(variant, i),
        "status_if_new": "subscribed",
        "merge_fields": merge_fields(i),
    }


# -- the emulator, over plain httpx ----------------------------------------------------------


def new_account(url: str, name: str) -> dict[str, Any]:
    """An account with one audience; returns the control plane's answer plus `list_id`."""
    with httpx.Client(base_url=url, timeout=30) as http:
        created = http.post("/_emulator/accounts", json={"account_name": name})
        created.raise_for_status()
        info: dict[str, Any] = created.json()
        audience = http.post(
            "/3.0/lists",
            json=LIST_BODY,
            headers={"Authorization": f"Bearer {info['access_token']}"},
        )
        audience.raise_for_status()
        info["list_id"] = audience.json()["id"]
        return info


def account_stats(url: str, account_id: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/_emulator/stats", timeout=30)
    response.raise_for_status()
    stats: dict[str, Any] = response.json()["accounts"][account_id]
    return stats


def verify(url: str, info: dict[str, Any], variant: str, count: int) -> dict[str, Any]:
    """Read the audience back; every written member must be there with its data."""
    found: dict[str, tuple[str, str, str]] = {}
    headers = {"Authorization": f"Bearer {info['access_token']}"}
    fields = "members.email_address,members.status,members.merge_fields,total_items"
    with httpx.Client(base_url=url, timeout=60, headers=headers) as http:
        offset = 0
        while True:
            page = http.get(
                f"/3.0/lists/{info['list_id']}/members",
                params={"count": 1000, "offset": offset, "fields": fields},
            )
            page.raise_for_status()
            data = page.json()
            for member in data["members"]:
                merge = member.get("merge_fields", {})
                found[member["email_address"]] = (
                    member["status"],
                    merge.get("FNAME", ""),
                    merge.get("LNAME", ""),
                )
            offset += len(data["members"])
            if not data["members"] or offset >= data["total_items"]:
                break
    expected = {email(variant, i): ("subscribed", *merge_fields(i).values()) for i in range(count)}
    wrong = sum(1 for address, want in expected.items() if found.get(address) != want)
    correct = len(found) == count and wrong == 0
    return {"expected": count, "found": len(found), "wrong_or_missing": wrong, "correct": correct}


# -- the variants -----------------------------------------------------------------------------


@dataclass
class Clock:
    """The time a variant spends on the upsert itself.

    Each variant builds its client before `running()`: an application builds
    its HTTP client once per process, and building an `httpx.AsyncClient`
    loads the CA bundle (25-90 ms on this machine), which is no part of
    writing members. The input member dicts are likewise built beforehand.
    """

    wall_s: float = 0.0
    cpu_s: float = 0.0

    @contextmanager
    def running(self) -> Iterator[None]:
        cpu = time.process_time()
        started = time.perf_counter()
        try:
            yield
        finally:
            self.wall_s += time.perf_counter() - started
            self.cpu_s += time.process_time() - cpu


Variant = Callable[[str, dict[str, Any], Clock], Any]


def run_mailchimp3(url: str, info: dict[str, Any], count: int, clock: Clock) -> None:
    client = mailchimp3.MailChimp(mc_api=info["api_key"], timeout=60)
    client.base_url = f"{url}/3.0/"  # the library derives https://{dc}.api.mailchimp.com
    with clock.running():
        for i in range(count):
            client.lists.members.create_or_update(
                info["list_id"], subscriber_hash(email("a", i)), put_body("a", i)
            )


def run_official(url: str, info: dict[str, Any], count: int, clock: Clock) -> None:
    client = mailchimp_marketing.Client()
    client.set_config({"access_token": info["access_token"], "server": info["dc"], "timeout": 60})
    client.api_client.host = f"{url}/3.0"  # normally https://{server}.api.mailchimp.com/3.0
    with clock.running():
        for i in range(count):
            client.lists.set_list_member(
                info["list_id"], subscriber_hash(email("b", i)), put_body("b", i)
            )


def chimplink_client(url: str, info: dict[str, Any], http: httpx.AsyncClient) -> MailchimpClient:
    return MailchimpClient(
        access_token=info["access_token"],
        base_url=url,
        http_client=http,
        limiter=LocalLimiter(limit=CONNECTIONS),
        account_key=info["account_id"],
    )


def batch_members(variant: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "email_address": email(variant, i),
            "status": "subscribed",
            "merge_fields": merge_fields(i),
        }
        for i in range(count)
    ]


async def run_batch_subscribe(
    url: str, info: dict[str, Any], count: int, clock: Clock
) -> dict[str, int]:
    members = batch_members("c", count)
    async with httpx.AsyncClient() as http:
        client = chimplink_client(url, info, http)
        with clock.running():
            result = await client.lists.batch_subscribe(
                info["list_id"],
                members,
                update_existing=True,
                # Only the outcomes, not every member's full record (§6 partial responses).
                fields=BATCH_SUBSCRIBE_OUTCOME_FIELDS,
            )
    return {
        "created": len(result.created),
        "updated": len(result.updated),
        "errors": len(result.errors),
        "unknown": len(result.unknown),
    }


async def run_raw_batches(url: str, info: dict[str, Any], count: int, clock: Clock) -> None:
    """The floor for (c) on this emulator: the same requests as bare concurrent POSTs."""
    members = batch_members("floor", count)
    chunks = [members[start : start + CHUNK] for start in range(0, count, CHUNK)]
    headers = {"Authorization": f"Bearer {info['access_token']}"}
    params = {"fields": ",".join(BATCH_SUBSCRIBE_OUTCOME_FIELDS)}
    slots = asyncio.Semaphore(CONNECTIONS)
    async with httpx.AsyncClient(timeout=60) as http:

        async def post(chunk: list[dict[str, Any]]) -> None:
            async with slots:
                response = await http.post(
                    f"{url}/3.0/lists/{info['list_id']}",
                    params=params,
                    json={"members": chunk, "update_existing": True, "sync_tags": False},
                    headers=headers,
                )
            response.raise_for_status()
            response.json()

        with clock.running():
            await asyncio.gather(*(post(chunk) for chunk in chunks))


async def run_concurrent_puts(url: str, info: dict[str, Any], count: int, clock: Clock) -> None:
    async with httpx.AsyncClient() as http:
        client = chimplink_client(url, info, http)
        with clock.running():
            await asyncio.gather(
                *(
                    client.lists.members.upsert(
                        info["list_id"],
                        email("d", i),
                        status_if_new="subscribed",
                        merge_fields=merge_fields(i),
                    )
                    for i in range(count)
                )
            )


def reset_emulator(url: str) -> None:
    """Empty the emulator, so no variant runs on the state (and garbage) of the ones before.

    Its state only grows otherwise, and with it the pauses of its garbage
    collector: measured here 33 ms during the first run of 5,000 members, 220 ms
    by the tenth, long enough to delay the requests of the run it lands in.
    """
    response = httpx.post(f"{url}/_emulator/reset", timeout=30)
    response.raise_for_status()


def measure(served: ServedProcess, variant: str, count: int, run: Variant) -> dict[str, Any]:
    """Run one variant on an emptied emulator: wall time, API calls (emulator stats), check."""
    reset_emulator(served.url)
    info = new_account(served.url, f"Variant {variant}")
    calls_before = account_stats(served.url, info["account_id"])["total_requests"]
    emulator_cpu = served.cpu_seconds()
    clock = Clock()
    started = time.perf_counter()
    detail = run(served.url, info, clock)
    with_setup = time.perf_counter() - started
    emulator_cpu = served.cpu_seconds() - emulator_cpu
    stats = account_stats(served.url, info["account_id"])  # before verify() adds its reads
    return {
        "members": count,
        "wall_s": round(clock.wall_s, 3),
        # Including the variant's setup (event loop, HTTP client, input), for reference.
        "wall_with_setup_s": round(with_setup, 3),
        "api_calls": stats["total_requests"] - calls_before,
        "statuses": {op: by for op, by in stats["requests"].items() if op != "POST /lists"},
        "throttled": stats["throttled"],
        "peak_concurrent_requests": stats["peak_concurrent_requests"],
        "client_cpu_s": round(clock.cpu_s, 3),
        "emulator_cpu_s": round(emulator_cpu, 3),
        "verified": verify(served.url, info, variant, count),
        **({"outcomes": detail} if isinstance(detail, dict) else {}),
    }


def scaled(measured: dict[str, Any], members: int) -> dict[str, Any]:
    """Figures at N: measured when the sample was N, else extrapolated linearly."""
    sample = measured["members"]
    if sample >= members:
        return {
            "basis": "measured",
            "wall_s": measured["wall_s"],
            "api_calls": measured["api_calls"],
        }
    factor = members / sample
    return {
        "basis": f"extrapolated ×{factor:g} from a measured sample of {sample}",
        "wall_s": round(measured["wall_s"] * factor, 3),
        "api_calls": round(measured["api_calls"] * factor),
    }


# -- overhead versus raw httpx ------------------------------------------------------------------


async def overhead(url: str, info: dict[str, Any], calls: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {info['access_token']}"}
    address = "overhead@bench-co.example"
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        put = await http.put(
            f"{url}/3.0/lists/{info['list_id']}/members/{subscriber_hash(address)}",
            json={"email_address": address, "status_if_new": "subscribed"},
            headers=headers,
        )
        put.raise_for_status()
        member_url = f"{url}/3.0/lists/{info['list_id']}/members/{subscriber_hash(address)}"
        client = MailchimpClient(
            access_token=info["access_token"],
            base_url=url,
            http_client=http,
            limiter=LocalLimiter(limit=CONNECTIONS),
            account_key=info["account_id"],
        )

        async def raw(n: int) -> None:
            for _ in range(n):
                response = await http.get(member_url, headers=headers)
                response.raise_for_status()
                response.json()

        async def ours(n: int) -> None:
            for _ in range(n):
                await client.lists.members.get(info["list_id"], address)

        await raw(100)  # warm up both paths (connection, imports, pydantic)
        await ours(100)
        timings: dict[str, list[float]] = {"raw": [], "client": []}
        cpu: dict[str, float] = {"raw": 0.0, "client": 0.0}
        done = 0
        block_index = 0
        while done < calls:
            block = min(OVERHEAD_BLOCK, calls - done)
            # Alternate which side goes first, so drift in the machine hits both.
            order = [("raw", raw), ("client", ours)]
            if block_index % 2:
                order.reverse()
            for name, run in order:
                cpu_before = time.process_time()
                started = time.perf_counter()
                await run(block)
                timings[name].append((time.perf_counter() - started) / block)
                cpu[name] += time.process_time() - cpu_before
            done += block
            block_index += 1

    # On a shared machine, other load only ever adds time: the fastest block of
    # each side is its least disturbed one (timeit's reasoning), so the headline
    # ratio compares those; the medians of paired blocks are reported beside it.
    best = {name: min(values) for name, values in timings.items()}
    median = {name: statistics.median(values) for name, values in timings.items()}
    pair_ratios = sorted(c / r for c, r in zip(timings["client"], timings["raw"], strict=True))
    ratio = best["client"] / best["raw"]
    median_pair_ratio = statistics.median(pair_ratios)
    # Load adds time to both sides and pulls the paired ratio towards 1, while a
    # single lucky block moves the fastest-block ratio: the goal counts as met
    # only when both agree, and as borderline when they disagree.
    within = [ratio <= 1.3, median_pair_ratio <= 1.3]
    goal_met: bool | None = all(within) if all(within) or not any(within) else None
    return {
        "calls_each": calls,
        "block": OVERHEAD_BLOCK,
        "raw_httpx_us_per_request": round(best["raw"] * 1e6, 1),
        "client_us_per_request": round(best["client"] * 1e6, 1),
        "client_overhead_us_per_request": round((best["client"] - best["raw"]) * 1e6, 1),
        "ratio": round(ratio, 3),
        "ratio_of": "fastest block's per-request wall time, client ÷ raw httpx",
        "median_us_per_request": {name: round(v * 1e6, 1) for name, v in median.items()},
        "median_pair_ratio": round(median_pair_ratio, 3),
        "pair_ratio_range": [round(pair_ratios[0], 3), round(pair_ratios[-1], 3)],
        "client_process_cpu_us_per_request": {
            name: round(value / calls * 1e6, 1) for name, value in cpu.items()
        },
        # Without sniffio, httpcore 1.0.x retries a failed `import sniffio` on every
        # request (encode/httpcore#1103): a fixed cost on both sides of the ratio.
        "sniffio_installed": importlib.util.find_spec("sniffio") is not None,
        "goal_ratio_max": 1.3,
        "median_overhead_us_per_request": round((median["client"] - median["raw"]) * 1e6, 1),
        "goal_met": goal_met,
    }


# -- main ----------------------------------------------------------------------------------------


def over_limit(runs: list[dict[str, Any]], limit_s: float) -> list[float]:
    return [round(run["wall_s"] / limit_s, 3) for run in runs]


def ideal_batch_seconds(members: int) -> float:
    """Chunks of 500 run 10 at a time; each wave costs its largest chunk's latency."""
    sizes = [min(CHUNK, members - start) for start in range(0, members, CHUNK)]
    waves = [sizes[i : i + CONNECTIONS] for i in range(0, len(sizes), CONNECTIONS)]
    return sum(LATENCY_MS + PER_ITEM_MS * max(wave) for wave in waves) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=5000, help="members to upsert (N)")
    parser.add_argument(
        "--peer-sample",
        type=int,
        default=250,
        help="members the sequential peers (a), (b) really upsert; extrapolated to N",
    )
    parser.add_argument(
        "--overhead-calls", type=int, default=2000, help="GETs per side for the overhead run"
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="runs of (c) and its floor; the median counts"
    )
    args = parser.parse_args()
    if min(args.members, args.peer_sample, args.overhead_calls, args.repeats) < 1:
        parser.error("--members, --peer-sample, --overhead-calls and --repeats must be >= 1")
    members = args.members
    sample = min(args.peer_sample, members)

    flags = (
        "--latency-ms",
        f"{LATENCY_MS:g}",
        "--latency-per-item-ms",
        f"{PER_ITEM_MS:g}",
        "--max-connections",
        str(CONNECTIONS),
    )
    runs: dict[str, Variant] = {
        "a": lambda url, info, clock: run_mailchimp3(url, info, sample, clock),
        "b": lambda url, info, clock: run_official(url, info, sample, clock),
        "c": lambda url, info, clock: asyncio.run(run_batch_subscribe(url, info, members, clock)),
        "floor": lambda url, info, clock: asyncio.run(run_raw_batches(url, info, members, clock)),
        "d": lambda url, info, clock: asyncio.run(run_concurrent_puts(url, info, members, clock)),
    }
    counts = {"a": sample, "b": sample, "c": members, "floor": members, "d": members}
    # (c) and its floor take ~2.3 s, where a burst of other load on the machine
    # shows: they run --repeats times, in pairs whose order alternates, and the
    # median run counts. A first untimed pair warms both paths up.
    pairs = [["c", "floor"] if i % 2 == 0 else ["floor", "c"] for i in range(args.repeats)]
    order = ["a", "b", *(variant for pair in pairs for variant in pair), "d"]
    all_runs: dict[str, list[dict[str, Any]]] = {}
    with emulator_process(*flags) as served:
        print("warm-up: one untimed run of (c) and of the floor …", flush=True)
        for variant in ("c", "floor"):
            measure(served, variant, counts[variant], runs[variant])
        for variant in order:
            print(f"({variant}) {VARIANTS[variant]}: {counts[variant]} members …", flush=True)
            run_result = measure(served, variant, counts[variant], runs[variant])
            all_runs.setdefault(variant, []).append(run_result)
            print(
                f"    {run_result['wall_s']} s, {run_result['api_calls']} API calls, "
                f"verified: {run_result['verified']['correct']}",
                flush=True,
            )
    measured: dict[str, dict[str, Any]] = {}
    for variant in runs:
        by_wall = sorted(all_runs[variant], key=lambda run: float(run["wall_s"]))
        chosen = dict(by_wall[(len(by_wall) - 1) // 2])
        if len(by_wall) > 1:
            chosen["repeats_wall_s"] = [run["wall_s"] for run in all_runs[variant]]
            chosen["repeats_spread_s"] = [by_wall[0]["wall_s"], by_wall[-1]["wall_s"]]
            chosen["chosen"] = "the median run by wall time"
            chosen["verified"] = {
                **chosen["verified"],
                "correct": all(run["verified"]["correct"] for run in by_wall),
            }
        measured[variant] = chosen

    with emulator_process("--max-connections", str(CONNECTIONS)) as served:
        info = new_account(served.url, "Overhead")
        print(f"overhead: {args.overhead_calls} sequential GETs each side …", flush=True)
        client_overhead = asyncio.run(overhead(served.url, info, args.overhead_calls))

    at_n = {variant: scaled(measured[variant], members) for variant in measured}
    c_wall = at_n["c"]["wall_s"]
    c_calls = at_n["c"]["api_calls"]
    ratios = {
        variant: {
            "wall_vs_c": round(at_n[variant]["wall_s"] / c_wall, 2),
            "api_calls_vs_c": round(at_n[variant]["api_calls"] / c_calls, 2),
        }
        for variant in at_n
    }
    ideal = ideal_batch_seconds(members)
    # Runs i of (c) and of the floor were made back to back (order alternating).
    pair_ratios = [
        round(c["wall_s"] / floor["wall_s"], 3)
        for c, floor in zip(all_runs["c"], all_runs["floor"], strict=True)
    ]
    issue_formula = math.ceil(members / CHUNK) / CONNECTIONS * (LATENCY_MS + CHUNK * PER_ITEM_MS)
    speedup = at_n["a"]["wall_s"] / c_wall
    goals = {
        "c_at_least_100x_faster_than_a": {
            "speedup": round(speedup, 1),
            "basis": "(a) " + at_n["a"]["basis"] + "; (c) measured",
            "met": speedup >= 100,
        },
        "c_within_1_2x_of_limit": {
            "limit_s": round(ideal, 3),
            "issue_formula_s": round(issue_formula / 1000, 3),
            "c_wall_s": c_wall,
            "c_over_limit": round(c_wall / ideal, 3),
            "met": c_wall <= 1.2 * ideal,
            # Every run, not only the median: "reliably" means each one is within.
            "c_runs_over_limit": over_limit(all_runs["c"], ideal),
            "c_runs_met": sum(run["wall_s"] <= 1.2 * ideal for run in all_runs["c"]),
            # Where the time above the limit goes: CPU on both sides (they share
            # the machine) and the emulator's one event loop. The raw httpx floor
            # is what any client gets on this emulator, measured in the same pairs.
            "c_emulator_cpu_s": measured["c"]["emulator_cpu_s"],
            "c_client_cpu_s": measured["c"]["client_cpu_s"],
            "floor_client_cpu_s": measured["floor"]["client_cpu_s"],
            "floor_s": at_n["floor"]["wall_s"],
            "floor_over_limit": round(at_n["floor"]["wall_s"] / ideal, 3),
            "floor_runs_over_limit": over_limit(all_runs["floor"], ideal),
            "c_over_floor": round(c_wall / at_n["floor"]["wall_s"], 3),
            "c_over_floor_pairs": pair_ratios,
            "c_over_floor_pairs_median": round(statistics.median(pair_ratios), 3),
        },
        "client_overhead_at_most_1_3x_raw_httpx": {
            "ratio": client_overhead["ratio"],
            "met": client_overhead["goal_met"],
        },
    }
    result = {
        "members": members,
        "peer_sample": sample,
        "emulator_flags": list(flags),
        "variants": {
            variant: {
                "what": VARIANTS[variant],
                "measured": measured[variant],
                f"at_{members}": at_n[variant],
            }
            for variant in measured
        },
        "ratios_to_c": ratios,
        "overhead_vs_raw_httpx": client_overhead,
        "goals": goals,
        "all_verified": all(run["verified"]["correct"] for run in measured.values()),
    }
    path = write_result("client_vs_peers", result)

    print()
    print(
        f"Upserting {members} members; emulator: {LATENCY_MS:g} ms + {PER_ITEM_MS:g} ms/item, "
        f"{CONNECTIONS} connections per account"
    )
    header = f"{'variant':<66} {'wall s':>9} {'API calls':>10} {'wall/c':>8} {'calls/c':>8}  basis"
    print(header)
    for variant in measured:
        figures = at_n[variant]
        name = f"({variant}) {VARIANTS[variant]}"
        mark = "*" if figures["basis"] != "measured" else " "
        print(
            f"{name:<66} {figures['wall_s']:>8.2f}{mark} {figures['api_calls']:>9}{mark} "
            f"{ratios[variant]['wall_vs_c']:>8} {ratios[variant]['api_calls_vs_c']:>8}  "
            f"{figures['basis']}"
        )
    for variant in ("a", "b"):
        run_result = measured[variant]
        if run_result["members"] < members:
            print(
                f"  * ({variant}) measured on {run_result['members']} members: "
                f"{run_result['wall_s']} s, {run_result['api_calls']} API calls "
                f"({run_result['wall_s'] / run_result['members'] * 1000:.1f} ms per member)"
            )
    for variant in ("c", "floor"):
        if "repeats_wall_s" in measured[variant]:
            walls = ", ".join(f"{wall:.2f}" for wall in measured[variant]["repeats_wall_s"])
            print(f"  ({variant}) runs: {walls} s; the table shows the median")
    goal = goals["c_at_least_100x_faster_than_a"]
    print(f"goal (c) ≥ 100× faster than (a): {goal['speedup']}× → {_verdict(goal['met'])}")
    goal = goals["c_within_1_2x_of_limit"]
    print(
        f"goal (c) ≤ 1.2 × limit {goal['limit_s']} s: {goal['c_wall_s']} s "
        f"= {goal['c_over_limit']}× (median run) → {_verdict(goal['met'])}; "
        f"{goal['c_runs_met']} of {len(all_runs['c'])} runs within"
    )
    print(
        f"    runs ÷ limit: (c) {_listed(goal['c_runs_over_limit'])}; "
        f"floor {_listed(goal['floor_runs_over_limit'])}"
    )
    print(
        f"    (c) spent {goal['c_emulator_cpu_s']} s of emulator CPU and "
        f"{goal['c_client_cpu_s']} s of client CPU (floor: {goal['floor_client_cpu_s']} s); "
        f"raw httpx sending the same batches took {goal['floor_s']} s "
        f"= {goal['floor_over_limit']}× the limit, so (c) = {goal['c_over_floor']}× that floor "
        f"(pairs: {_listed(goal['c_over_floor_pairs'])}, median "
        f"{goal['c_over_floor_pairs_median']}×)"
    )
    over = client_overhead
    print(
        f"client overhead vs raw httpx (no latency, 1 connection, {over['calls_each']} GETs each): "
        f"{over['client_us_per_request']} µs vs {over['raw_httpx_us_per_request']} µs per request "
        f"= {over['ratio']}× (fastest blocks); paired blocks' median {over['median_pair_ratio']}× "
        f"(range {over['pair_ratio_range'][0]}–{over['pair_ratio_range'][1]}×); goal ≤ 1.3 "
        f"→ {_verdict(over['goal_met'])}"
    )
    cpu_us = over["client_process_cpu_us_per_request"]
    print(
        f"    the client adds {over['client_overhead_us_per_request']} µs (fastest blocks), "
        f"{over['median_overhead_us_per_request']} µs (medians), "
        f"{round(cpu_us['client'] - cpu_us['raw'], 1)} µs of CPU per request"
    )
    print(f"members verified after every variant: {result['all_verified']}")
    print(f"written to {path}")


def _listed(values: list[float]) -> str:
    return ", ".join(f"{value:.3f}" for value in values)


def _verdict(met: bool | None) -> str:
    if met is None:
        return "borderline (the two statistics disagree)"
    return "met" if met else "NOT met"


if __name__ == "__main__":
    main()
