"""The push connector's tasks: deliver the webhook outbox to platforms, prune it.

    tasks = builtin_tasks(connectors=factory)     # jobs/tasks.py adds these two

Both derive their work from the outbox (`store/push_outbox.py`), so a lost or
repeated run loses nothing: a delivery interrupted mid-flight is leased, and
tried again when its lease ends (the platform may see it twice, with the same
`webhook-id`).

Requests to platforms go through their own HTTP client, made for each run
that has something to deliver: never the Mailchimp client of `Services`,
whose pool, limits and call accounting are Mailchimp's.
"""

from __future__ import annotations

from datetime import timedelta

import httpx

from chimplink.connect import Services
from chimplink.jobs.tasks import Task
from chimplink.platforms.push.delivery import DeliveryPolicy, deliver_due
from chimplink.store.push_outbox import has_due_push_deliveries, prune_push_deliveries

__all__ = [
    "DELIVER_EVERY",
    "PRUNE_EVERY",
    "deliver_push_webhooks",
    "prune_push_webhooks",
    "push_tasks",
]

DELIVER_EVERY = timedelta(seconds=5)
PRUNE_EVERY = timedelta(hours=1)


async def deliver_push_webhooks(
    services: Services,
    *,
    policy: DeliveryPolicy | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, int]:
    """Attempt every webhook due now; counts of delivered, retrying and dead."""
    policy = policy or DeliveryPolicy()
    async with services.sessions() as session:
        if not await has_due_push_deliveries(session=session, now=services.clock()):
            return {"delivered": 0, "retrying": 0, "dead": 0}
    async with httpx.AsyncClient(
        transport=transport, timeout=policy.timeout, follow_redirects=False
    ) as http:
        report = await deliver_due(
            sessions=services.sessions,
            cipher=services.cipher,
            http=http,
            policy=policy,
            clock=services.clock,
        )
    return report.counts()


async def prune_push_webhooks(services: Services) -> object:
    """Retention of the outbox (delivered and dead webhooks hold personal data)."""
    async with services.sessions.begin() as session:
        return await prune_push_deliveries(session=session, now=services.clock())


def push_tasks(
    *,
    policy: DeliveryPolicy | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    deliver_every: timedelta = DELIVER_EVERY,
) -> tuple[Task, ...]:
    """The delivery task (every few seconds) and the pruning task (hourly)."""

    async def deliver(services: Services) -> object:
        return await deliver_push_webhooks(services, policy=policy, transport=transport)

    return (
        Task("deliver_push_webhooks", deliver_every, deliver),
        Task("prune_push_webhooks", PRUNE_EVERY, prune_push_webhooks),
    )
