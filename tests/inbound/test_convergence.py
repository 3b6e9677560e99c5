"""Random interleavings of platform edits, subscriber actions in Mailchimp, sync runs,
processing, reconciliation, and lost / duplicated / reordered webhooks: both sides end
equal, and nobody who unsubscribed is ever subscribed again (seeded, reproducible).

Each outbound run is preceded by draining the inbox, as the sync job does (a sync
also takes in what changed since the last reconciliation pass itself, sync/engine.py).
test_stateful.py explores the same world with the passes in any order.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from chimplink.platforms import Consent
from chimplink.store.sync_state import RecordOutcome
from tests.inbound.conftest import Scene

FIELDS = {"first_name": "FNAME", "last_name": "LNAME", "city": None}  # None: derived tag


async def _members_by_contact(scene: Scene) -> dict[str, dict[str, Any]]:
    response = await scene.api("GET", f"/lists/{scene.list_id}/members", params={"count": 1000})
    return {m["contact_id"]: m for m in response.json()["members"]}


@pytest.mark.parametrize("seed", range(1, 9))
async def test_random_interleavings_converge(scene: Scene, seed: int) -> None:
    rng = random.Random(seed)
    tags = {name: tag or await scene.tag(name) for name, tag in FIELDS.items()}
    contact_of = {}  # platform key → Mailchimp contact id (stable across address changes)
    for contact_id, member in (await _members_by_contact(scene)).items():
        [key] = [k for k in ("1", "2", "3") if scene.platform[k].email == member["email_address"]]
        contact_of[key] = contact_id
    await scene.reconcile()  # a pass has run since the initial sync (contact ids known)
    sink = scene.sink()
    pending: list[bytes] = []
    unsubscribed: set[str] = set()
    counter = 0
    log: list[str] = []

    for _ in range(40):
        step = rng.choice(["mc", "mc", "platform", "deliver", "deliver", "process", "sync", "rec"])
        key = rng.choice(sorted(contact_of))
        counter += 1
        log.append(f"{step}:{key}")
        if step == "mc":
            member = (await _members_by_contact(scene))[contact_of[key]]
            email = member["email_address"]
            action = rng.choice(["profile", "profile", "unsubscribe", "email"])
            seen = len(sink.received)
            if action == "profile":
                field = rng.choice(sorted(tags))
                await scene.action(
                    email, action="update_profile", merge_fields={tags[field]: f"mc{counter}"}
                )
            elif action == "unsubscribe":
                await scene.action(email, action="unsubscribe")
                unsubscribed.add(key)
            else:
                await scene.action(email, action="change_email", new_email=f"m{counter}@ex.org")
            pending.extend(sink.bodies()[seen:])
        elif step == "platform":
            if rng.random() < 0.3:
                scene.platform.edit(key, email=f"p{counter}@ex.org")
            else:
                field = rng.choice(sorted(tags))
                scene.platform.edit(key, fields={field: f"pl{counter}"})
        elif step == "deliver" and pending:
            body = pending.pop(rng.randrange(len(pending)))  # any order
            fate = rng.random()
            if fate < 0.2:
                continue  # lost
            for _ in range(2 if fate > 0.8 else 1):  # sometimes duplicated
                assert (await scene.post(body)).status_code == 200
            if fate > 0.9:
                pending.append(body)  # and delivered again later
        elif step == "process":
            await scene.process()
        elif step == "sync":
            # Mailchimp's changes are taken in before an outbound run (module docstring).
            await scene.process()
            await scene.reconcile()
            await scene.sync()
        elif step == "rec":
            await scene.reconcile()

    for body in pending:
        assert (await scene.post(body)).status_code == 200
    for _ in range(3):
        await scene.process()
        await scene.reconcile()
        await scene.sync()
    final = await scene.sync()
    assert final.write_calls == 0, log

    members = await _members_by_contact(scene)
    for key, contact_id in contact_of.items():
        contact, member = scene.platform[key], members[contact_id]
        record = await scene.record(key)
        if record.outcome is RecordOutcome.PARKED:
            # Mailchimp changes only a subscribed member's address: the platform keeps
            # its own (never undone), and the record says why Mailchimp does not have it.
            assert member["status"] != "subscribed", (key, log)
            assert "email change refused" in (record.reason or ""), (key, log)
        else:
            assert contact.email == member["email_address"], (key, log)
            for field, tag in tags.items():
                assert (contact.fields.get(field) or "") == member["merge_fields"][tag], (key, log)
        if key in unsubscribed:
            assert member["status"] == "unsubscribed", (key, log)
            assert contact.consent is Consent.WITHDRAWN, (key, log)
        else:
            assert member["status"] == "subscribed", (key, log)
