"""The sync process of the kill -9 test: one `run_sync` against a served emulator.

    python tests/sync/kill_child.py --database URL --api URL --token T \
        --installation ID --contacts N [--in-flight K]

Prints `checkpoint <index>` after every committed chunk (the index of the
last contact the checkpoint covers, -1 for none) and `done <status>` at the
end, flushing each line so the parent can kill it at a chosen point.
The contacts are generated from their index, so every run (and the test)
sees the same platform.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator

from chimplink.mailchimp import LocalLimiter, MailchimpClient, RetryPolicy
from chimplink.platforms import (
    Consent,
    Contact,
    Erasure,
    FieldSpec,
    FieldType,
    InboundChange,
)
from chimplink.store.db import make_engine, make_session_factory
from chimplink.sync import Progress, SyncOptions, run_sync

CITIES = ("Atlanta", "Macon", "Savannah", "Athens", "Augusta")


def contact(index: int) -> Contact:
    return Contact(
        key=f"k{index:06d}",
        email=f"pat.lane{index}@kill-test-shop.com",
        consent=Consent.WITHDRAWN if index % 10 == 0 else Consent.GRANTED,
        cursor=f"{index:08d}",
        fields={"first_name": "Pat", "last_name": f"Lane{index}", "city": CITIES[index % 5]},
        labels=frozenset(
            {"even" if index % 2 == 0 else "odd"} | ({"seven"} if index % 7 == 0 else set())
        ),
    )


class GeneratedConnector:
    name = "generated"

    def __init__(self, count: int) -> None:
        self.count = count

    async def describe_fields(self) -> list[FieldSpec]:
        return [
            FieldSpec("first_name", FieldType.TEXT),
            FieldSpec("last_name", FieldType.TEXT),
            FieldSpec("city", FieldType.TEXT),
        ]

    async def contacts(self, *, after: str | None, page_size: int) -> AsyncIterator[list[Contact]]:
        start = int(after) + 1 if after is not None else 0
        for first in range(start, self.count, page_size):
            yield [contact(i) for i in range(first, min(first + page_size, self.count))]

    async def erasures(self, *, after: str | None, page_size: int) -> AsyncIterator[list[Erasure]]:
        return
        yield  # an async generator with nothing to erase

    async def apply(self, change: InboundChange) -> None:
        raise AssertionError("the kill test syncs outbound only; nothing is applied back")

    async def count_contacts(self, *, after: str | None) -> int:
        return self.count - (int(after) + 1 if after is not None else 0)


async def main(args: argparse.Namespace) -> int:
    engine = make_engine(args.database)
    sessions = make_session_factory(engine)

    def progress(update: Progress) -> None:
        index = int(update.checkpoint) if update.checkpoint is not None else -1
        print(f"checkpoint {index}", flush=True)

    try:
        async with MailchimpClient(
            access_token=args.token,
            base_url=args.api,
            account_key=args.installation,
            limiter=LocalLimiter(),
            retry=RetryPolicy(max_attempts=8, base_delay=0.05, deadline=None),
        ) as client:
            report = await run_sync(
                sessions=sessions,
                installation_id=args.installation,
                client=client,
                connector=GeneratedConnector(args.contacts),
                progress=progress,
                options=SyncOptions(max_in_flight=args.in_flight, retry_delay=0.1),
            )
    finally:
        await engine.dispose()
    print(f"done {report.status.value}", flush=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--api", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--installation", required=True)
    parser.add_argument("--contacts", type=int, required=True)
    parser.add_argument("--in-flight", type=int, default=4)
    sys.exit(asyncio.run(main(parser.parse_args())))
