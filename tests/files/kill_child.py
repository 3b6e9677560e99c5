"""The push process of the kill -9 test: one `push_photos` against a served emulator.

    python tests/files/kill_child.py --database URL --api URL --token T \
        --installation ID --platform PATH [--workers K]

Prints `uploaded <n>` after every photo (the photos this run has uploaded so
far) and `done <status>` at the end, flushing each line so the parent can
kill it at a chosen point. The photos are the demo platform's at PATH, made
once by the parent, so every run sees the same library.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from chimplink.mailchimp import LocalLimiter, MailchimpClient, RetryPolicy
from chimplink.platforms.demo import DemoPlatform
from chimplink.store.db import make_engine, make_session_factory
from chimplink.sync.files import FileOptions, FileProgress, push_photos


async def main(args: argparse.Namespace) -> int:
    engine = make_engine(args.database)
    sessions = make_session_factory(engine)

    def progress(update: FileProgress) -> None:
        print(f"uploaded {update.transferred}", flush=True)

    try:
        async with (
            await DemoPlatform.open(args.platform) as platform,
            MailchimpClient(
                access_token=args.token,
                base_url=args.api,
                account_key=args.installation,
                limiter=LocalLimiter(),
                retry=RetryPolicy(max_attempts=8, base_delay=0.05, deadline=None),
            ) as client,
        ):
            report = await push_photos(
                sessions=sessions,
                installation_id=args.installation,
                client=client,
                library=platform.connector(),
                progress=progress,
                options=FileOptions(workers=args.workers),
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
    parser.add_argument("--platform", required=True)
    parser.add_argument("--workers", type=int, default=10)
    sys.exit(asyncio.run(main(parser.parse_args())))
