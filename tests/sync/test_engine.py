"""The outbound engine against the emulator (in-process), on SQLite and PostgreSQL.

Each test drives a whole run (`run_sync`) and checks three things: what is in
the Mailchimp audience afterwards, what the emulator says was called, and
what the sync state holds.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest

from chimplink.mailchimp import subscriber_hash
from chimplink.platforms import Consent, Contact
from chimplink.store.crypto import TokenCipher
from chimplink.store.installations import find_installation
from chimplink.store.sync_config import get_sync_config
from chimplink.store.sync_state import (
    RecordOutcome,
    RecordUpdate,
    RunStatus,
    clear_checkpoints,
    count_records,
    get_checkpoint,
    list_records,
    list_runs,
    load_records,
    save_records,
    suppressed,
)
from chimplink.store.tables import InstallationStatus
from chimplink.sync import (
    CONTACTS,
    Progress,
    SyncNotConfigured,
    SyncOptions,
    contact_hash,
    policy_from_config,
)
from tests.store.helpers import Db
from tests.sync.conftest import (
    FAST_OPTIONS,
    Env,
    Exchange,
    RecordingTransport,
    new_env,
    no_sleep,
)
from tests.sync.connector import MemoryConnector

BATCH_WRITE = "POST /lists/{list_id}"


def people(env: Env, count: int, *, prefix: str = "ann.lee", **kwargs: object) -> None:
    for n in range(count):
        env.connector.put(
            f"c{n}",
            f"{prefix}{n}@bakery-customers.com",
            fields={"first_name": "Ann", "last_name": f"Lee{n}", "city": "Atlanta", "score": n},
            **kwargs,  # type: ignore[arg-type]
        )


async def records(env: Env) -> dict[str, RecordOutcome]:
    async with env.db.sessions() as session:
        found = await list_records(
            session=session, installation_id=env.installation_id, limit=100_000
        )
    return {r.platform_key: r.outcome for r in found}


async def rescan(env: Env) -> None:
    """Forget the checkpoint: the next run re-reads everything and compares hashes."""
    async with env.db.sessions.begin() as session:
        await clear_checkpoints(session=session, installation_id=env.installation_id)


# -- initial sync ---------------------------------------------------------------------


async def test_initial_sync_creates_members_exactly(env: Env) -> None:
    c = env.connector
    c.put(
        "k1",
        "ann.lee@bakery-customers.com",
        fields={"first_name": "Ann", "last_name": "Lee", "city": "Atlanta", "score": "42"},
        labels={"vip", "newsletter"},
    )
    c.put("k2", "bob.ray@bakery-customers.com", consent=Consent.WITHDRAWN, fields={"score": 7})
    c.put("k3", "cy.dale@bakery-customers.com", consent=Consent.UNKNOWN)

    report = await env.sync()

    assert report.status is RunStatus.COMPLETED, report.message
    assert (report.created, report.updated, report.failed_total) == (3, 0, 0)
    assert sorted(report.merge_fields_created) == ["CITY", "LOYALTYSCO"]
    members = await env.members()
    assert set(members) == {
        "ann.lee@bakery-customers.com",
        "bob.ray@bakery-customers.com",
        "cy.dale@bakery-customers.com",
    }
    ann = members["ann.lee@bakery-customers.com"]
    assert ann["status"] == "subscribed"  # consent granted
    assert ann["merge_fields"]["FNAME"] == "Ann"
    assert ann["merge_fields"]["CITY"] == "Atlanta"
    assert ann["merge_fields"]["LOYALTYSCO"] == 42  # converted to the number type
    assert sorted(t["name"] for t in ann["tags"]) == ["newsletter", "vip"]
    # no consent recorded: non-marketing contacts (the default policy)
    assert members["bob.ray@bakery-customers.com"]["status"] == "transactional"
    assert members["cy.dale@bakery-customers.com"]["status"] == "transactional"

    fields = (await env.api("GET", f"/lists/{env.list_id}/merge-fields")).json()["merge_fields"]
    types = {f["tag"]: f["type"] for f in fields}
    assert types["CITY"] == "text"
    assert types["LOYALTYSCO"] == "number"
    assert await records(env) == dict.fromkeys(["k1", "k2", "k3"], RecordOutcome.SYNCED)
    async with env.db.sessions() as session:
        config = await get_sync_config(session=session, installation_id=env.installation_id)
        runs = await list_runs(session=session, installation_id=env.installation_id)
    assert config is not None
    assert config.field_map["city"] == "CITY"  # the derived tag is remembered
    assert config.managed_tags == {"newsletter", "vip"}
    assert runs[0].status is RunStatus.COMPLETED and runs[0].counts["created"] == 3
    # 3 contacts: one batch subscribe, two merge fields created, nothing else written
    assert await env.writes() == Counter({BATCH_WRITE: 1, "POST /lists/{list_id}/merge-fields": 2})


async def test_skip_policy_and_double_opt_in(env: Env) -> None:
    await env.configure(no_consent="skip", double_optin=True)
    env.connector.put("k1", "ann.lee@bakery-customers.com")
    env.connector.put("k2", "bob.ray@bakery-customers.com", consent=Consent.WITHDRAWN)

    report = await env.sync()

    assert (report.created, report.skipped) == (1, 1)
    members = await env.members()
    assert list(members) == ["ann.lee@bakery-customers.com"]
    assert members["ann.lee@bakery-customers.com"]["status"] == "pending"  # confirmation email
    assert (await records(env))["k2"] is RecordOutcome.SKIPPED
    # skipped records are not rewritten by later runs
    await rescan(env)
    again = await env.sync()
    assert (again.skipped, again.unchanged, again.write_calls) == (1, 1, 0)


async def test_chunks_of_500_make_one_call_each(env: Env) -> None:
    people(env, 1_234)
    report = await env.sync()
    assert report.status is RunStatus.COMPLETED
    assert report.created == 1_234
    assert (await env.writes())[BATCH_WRITE] == 3
    assert all(len(body["members"]) <= 500 for body in env.batch_bodies())
    assert len(await env.members()) == 1_234
    async with env.db.sessions() as session:
        checkpoint = await get_checkpoint(
            session=session, installation_id=env.installation_id, stream=CONTACTS
        )
    assert checkpoint == env.connector.all()[-1].cursor


async def test_not_configured_raises(env: Env) -> None:
    from sqlalchemy import delete

    from chimplink.store.tables import SyncConfigRow

    async with env.db.sessions.begin() as session:
        await session.execute(delete(SyncConfigRow))
    with pytest.raises(SyncNotConfigured):
        await env.sync()


# -- re-syncs --------------------------------------------------------------------------


async def test_resync_without_change_makes_no_write_call(env: Env) -> None:
    people(env, 600)
    await env.sync()
    before = await env.writes()

    incremental = await env.sync()
    assert incremental.status is RunStatus.COMPLETED
    assert (incremental.read, incremental.write_calls) == (0, 0)

    await rescan(env)  # re-read all 600: every content hash matches
    rescanned = await env.sync()
    assert (rescanned.read, rescanned.unchanged, rescanned.write_calls) == (600, 600, 0)
    assert await env.writes() == before


async def test_one_change_makes_one_write(env: Env) -> None:
    people(env, 50)
    await env.sync()
    before = await env.writes()

    env.connector.edit("c7", fields={"city": "Savannah"})
    report = await env.sync()

    assert (report.read, report.updated, report.unchanged) == (1, 1, 0)
    assert (await env.writes()) - before == Counter({BATCH_WRITE: 1})
    member = (await env.members())["ann.lee7@bakery-customers.com"]
    assert member["merge_fields"]["CITY"] == "Savannah"
    assert member["status"] == "subscribed"


async def test_tag_removal_touches_only_managed_tags(env: Env) -> None:
    env.connector.put("k1", "ann.lee@bakery-customers.com", labels={"vip", "newsletter"})
    await env.sync()
    digest = subscriber_hash("ann.lee@bakery-customers.com")
    # the user tags the contact in Mailchimp themselves
    added = await env.api(
        "POST",
        f"/lists/{env.list_id}/members/{digest}/tags",
        json={"tags": [{"name": "met at fair", "status": "active"}]},
    )
    assert added.status_code == 204

    env.connector.edit("k1", labels={"newsletter", "wholesale"})
    report = await env.sync()

    assert report.updated == 1
    member = (await env.members())["ann.lee@bakery-customers.com"]
    assert sorted(t["name"] for t in member["tags"]) == ["met at fair", "newsletter", "wholesale"]
    tag_calls = [
        e.body
        for e in env.transport.exchanges
        if e.path.endswith("/tags") and e.method == "POST" and e.body.get("is_syncing") is not None
    ]
    # Only the labels changed: one tags call, the member itself is not written again.
    assert tag_calls == [
        {
            "tags": [
                {"name": "vip", "status": "inactive"},
                {"name": "wholesale", "status": "active"},
            ],
            "is_syncing": False,
        }
    ]
    # batch subscribe never replaces tags (that would remove the user's own)
    assert all(body["sync_tags"] is False for body in env.batch_bodies())


async def test_email_change_updates_the_member_in_place(env: Env) -> None:
    env.connector.put("k1", "ann.lee@bakery-customers.com", labels={"vip"})
    await env.sync()
    before = await env.members()
    contact_id = before["ann.lee@bakery-customers.com"]["contact_id"]

    env.connector.edit("k1", email="ann.bloom@bakery-customers.com", labels={"vip", "gold"})
    report = await env.sync()

    assert report.status is RunStatus.COMPLETED
    assert report.updated == 1
    after = await env.members()
    assert list(after) == ["ann.bloom@bakery-customers.com"]  # no duplicate, old one gone
    moved = after["ann.bloom@bakery-customers.com"]
    assert moved["contact_id"] == contact_id
    assert sorted(t["name"] for t in moved["tags"]) == ["gold", "vip"]
    patches = [e for e in env.transport.exchanges if e.method == "PATCH"]
    assert [e.path for e in patches] == [
        f"/3.0/lists/{env.list_id}/members/{subscriber_hash('ann.lee@bakery-customers.com')}"
    ]
    assert "status" not in patches[0].body
    async with env.db.sessions() as session:
        stored = await load_records(
            session=session, installation_id=env.installation_id, keys=["k1"]
        )
    assert stored["k1"].subscriber_hash == subscriber_hash("ann.bloom@bakery-customers.com")


# -- compliance ------------------------------------------------------------------------


def _status_sent_to_existing(env: Env) -> list[object]:
    """Every status chimplink sent in a request that may update an existing member."""
    sent: list[object] = []
    for exchange in env.transport.exchanges:
        body = exchange.body
        if not isinstance(body, dict):
            continue
        if exchange.method in ("PUT", "PATCH") and "status" in body:
            sent.append(body["status"])
        if exchange.path == f"/3.0/lists/{env.list_id}" and body.get("update_existing"):
            sent += [m["status"] for m in body["members"] if "status" in m]
    return sent


async def test_unsubscribed_in_mailchimp_is_never_resubscribed(env: Env) -> None:
    env.connector.put("k1", "ann.lee@bakery-customers.com", fields={"city": "Atlanta"})
    await env.sync()
    await env.action("ann.lee@bakery-customers.com", action="unsubscribe")

    env.connector.edit("k1", fields={"city": "Macon"})  # consent still "granted" on the platform
    changed = await env.sync()
    assert changed.updated == 1
    full = await env.sync(full=True)
    assert full.updated == 1

    member = (await env.members())["ann.lee@bakery-customers.com"]
    assert member["status"] == "unsubscribed"
    assert member["merge_fields"]["CITY"] == "Macon"  # the profile is still kept up to date
    assert _status_sent_to_existing(env) == []


async def test_existing_members_keep_their_status(env: Env) -> None:
    """An audience with members before the first sync: their statuses are never changed."""
    for email, status in (
        ("ann.lee@bakery-customers.com", "unsubscribed"),
        ("bob.ray@bakery-customers.com", "subscribed"),
        ("cy.dale@bakery-customers.com", "transactional"),
        ("di.fox@bakery-customers.com", "pending"),
    ):
        created = await env.api(
            "POST",
            f"/lists/{env.list_id}/members",
            json={"email_address": email, "status": status},
        )
        assert created.status_code == 200, created.text
    c = env.connector
    c.put("k1", "ann.lee@bakery-customers.com", fields={"city": "Rome"})
    c.put("k2", "bob.ray@bakery-customers.com", consent=Consent.WITHDRAWN, fields={"city": "Rome"})
    c.put("k3", "cy.dale@bakery-customers.com", fields={"city": "Rome"})
    c.put("k4", "di.fox@bakery-customers.com", fields={"city": "Rome"})
    c.put("k5", "ed.gray@bakery-customers.com", fields={"city": "Rome"})

    report = await env.sync()

    assert report.status is RunStatus.COMPLETED
    assert (report.created, report.updated) == (1, 4)
    members = await env.members()
    assert {e: m["status"] for e, m in members.items()} == {
        "ann.lee@bakery-customers.com": "unsubscribed",
        "bob.ray@bakery-customers.com": "subscribed",
        "cy.dale@bakery-customers.com": "transactional",
        "di.fox@bakery-customers.com": "pending",
        "ed.gray@bakery-customers.com": "subscribed",
    }
    assert all(m["merge_fields"]["CITY"] == "Rome" for m in members.values())
    assert _status_sent_to_existing(env) == []


async def test_invalid_emails_are_parked_until_they_change(env: Env) -> None:
    env.connector.put("k1", "test@example.com")  # Mailchimp: "looks fake or invalid"
    env.connector.put("k2", "not-an-email")  # never sent
    env.connector.put("k3", "ann.lee@bakery-customers.com")

    first = await env.sync()

    assert first.status is RunStatus.COMPLETED
    assert first.created == 1
    assert first.failed == Counter({"invalid email": 2})
    async with env.db.sessions() as session:
        stored = await load_records(
            session=session, installation_id=env.installation_id, keys=["k1", "k2"]
        )
    assert stored["k1"].outcome is RecordOutcome.PARKED
    assert stored["k1"].reason is not None
    assert stored["k1"].reason.startswith("invalid email: ")
    assert "looks fake or invalid" in stored["k1"].reason
    assert stored["k2"].outcome is RecordOutcome.PARKED
    sent = [m["email_address"] for b in env.batch_bodies() for m in b["members"]]
    assert "not-an-email" not in sent

    await rescan(env)
    before = await env.writes()
    second = await env.sync()
    assert (second.parked, second.unchanged, second.failed_total) == (2, 1, 0)
    assert await env.writes() == before  # parked records are not retried

    env.connector.edit("k1", email="tess.ting@bakery-customers.com")
    third = await env.sync()
    assert (third.created, third.failed_total) == (1, 0)
    assert (await records(env))["k1"] is RecordOutcome.SYNCED


async def test_invalid_merge_values_are_parked(env: Env) -> None:
    env.connector.put("k1", "ann.lee@bakery-customers.com", fields={"score": "lots"})
    report = await env.sync()
    assert report.failed == Counter({"merge field invalid": 1})
    assert (await records(env))["k1"] is RecordOutcome.PARKED
    assert await env.members() == {}


async def test_erasure_deletes_permanently_and_is_never_re_added(env: Env) -> None:
    await env.configure(erase_permanently=True)
    env.connector.put("k1", "ann.lee@bakery-customers.com")
    env.connector.put("k2", "bob.ray@bakery-customers.com")
    await env.sync()

    env.connector.erase("k1")
    report = await env.sync()
    assert report.erased == 1
    assert list(await env.members()) == ["bob.ray@bakery-customers.com"]
    digest = subscriber_hash("ann.lee@bakery-customers.com")
    async with env.db.sessions() as session:
        assert await suppressed(
            session=session, installation_id=env.installation_id, hashes=[digest]
        ) == {digest}
        assert "k1" not in await load_records(
            session=session, installation_id=env.installation_id, keys=["k1"]
        )  # the address is gone from chimplink's records too

    # the platform later has the same address again, under a new key
    env.connector.put("k9", "Ann.Lee@bakery-customers.com")
    again = await env.sync()
    assert (again.skipped, again.created) == (1, 0)
    assert "ann.lee@bakery-customers.com" not in await env.members()
    sent = [m["email_address"].lower() for b in env.batch_bodies() for m in b["members"]]
    assert sent.count("ann.lee@bakery-customers.com") == 1  # only the first sync


async def test_erasure_without_permanent_delete_only_stops_syncing(env: Env) -> None:
    env.connector.put("k1", "ann.lee@bakery-customers.com")
    await env.sync()
    env.connector.erase("k1")
    report = await env.sync()
    assert report.erased == 1
    assert "ann.lee@bakery-customers.com" in await env.members()
    assert not [e for e in env.transport.exchanges if "delete-permanent" in e.path]


async def test_forgotten_in_mailchimp_is_final_and_suppressed(env: Env) -> None:
    env.connector.put("k1", "ann.lee@bakery-customers.com")
    await env.sync()
    digest = subscriber_hash("ann.lee@bakery-customers.com")
    erased = await env.api(
        "POST", f"/lists/{env.list_id}/members/{digest}/actions/delete-permanent"
    )
    assert erased.status_code == 204

    env.connector.edit("k1", fields={"city": "Athens"})
    report = await env.sync()

    assert report.failed == Counter({"forgotten email": 1})
    assert await env.members() == {}
    async with env.db.sessions() as session:
        assert await suppressed(
            session=session, installation_id=env.installation_id, hashes=[digest]
        ) == {digest}
    env.connector.edit("k1", fields={"city": "Sparta"})
    later = await env.sync()
    assert (later.skipped, later.write_calls) == (1, 0)


async def test_duplicate_addresses_on_the_platform(env: Env) -> None:
    env.connector.put("k1", "ann.lee@bakery-customers.com", fields={"city": "A"})
    env.connector.put("k2", "ANN.LEE@bakery-customers.com", fields={"city": "B"})
    first = await env.sync()
    assert first.created == 1
    assert first.retrying == Counter({"duplicate email": 1})
    assert first.status is RunStatus.FAILED  # k2 holds the checkpoint back, for now

    env.options = SyncOptions(sleep=no_sleep, retry_delay=0.0, max_record_attempts=2)
    second = await env.sync()
    assert second.failed == Counter({"gave up after repeated failures": 1})
    assert second.status is RunStatus.COMPLETED
    member = (await env.members())["ann.lee@bakery-customers.com"]
    assert member["merge_fields"]["CITY"] == "A"  # never overwritten by the other contact


# -- stopping --------------------------------------------------------------------------


async def test_revoked_access_stops_with_needs_reconnect(env: Env) -> None:
    people(env, 10)
    revoked = await env.http.post("/_emulator/tokens/revoke", json={"access_token": env.token})
    assert revoked.status_code == 200

    report = await env.sync()

    assert report.status is RunStatus.NEEDS_RECONNECT
    assert report.message is not None and "Reconnect" in report.message
    assert await records(env) == {}
    async with env.db.sessions() as session:
        installation = await find_installation(session=session, installation_id=env.installation_id)
        runs = await list_runs(session=session, installation_id=env.installation_id)
    assert installation.status is InstallationStatus.NEEDS_RECONNECT
    assert runs[0].status is RunStatus.NEEDS_RECONNECT


async def test_revoked_during_the_run_keeps_the_checkpoint_honest(env: Env) -> None:
    people(env, 1_500)
    revocations: list[asyncio.Task[object]] = []

    def revoke_after_first_chunk(update: Progress) -> None:
        if not revocations:
            revocations.append(
                asyncio.get_running_loop().create_task(
                    env.http.post("/_emulator/tokens/revoke", json={"access_token": env.token})
                )
            )

    env.options = SyncOptions(sleep=no_sleep, retry_delay=0.0, max_in_flight=1)
    report = await env.sync(progress=revoke_after_first_chunk)

    assert report.status is RunStatus.NEEDS_RECONNECT
    assert 500 <= report.created < 1_500
    async with env.db.sessions() as session:
        checkpoint = await get_checkpoint(
            session=session, installation_id=env.installation_id, stream=CONTACTS
        )
    synced = sorted(k for k, o in (await records(env)).items() if o is RecordOutcome.SYNCED)
    cursors = {c.key: c.cursor for c in env.connector.all()}
    # the checkpoint is the cursor of the last acknowledged contact, no further
    assert checkpoint == max(cursors[k] for k in synced)
    assert len(await env.members()) == len(synced)


async def test_deleted_audience_is_a_fatal_config_error(env: Env) -> None:
    people(env, 5)
    deleted = await env.api("DELETE", f"/lists/{env.list_id}")
    assert deleted.status_code == 204

    report = await env.sync()

    assert report.status is RunStatus.FAILED
    assert report.message is not None and "audience" in report.message
    assert await records(env) == {}
    async with env.db.sessions() as session:
        installation = await find_installation(session=session, installation_id=env.installation_id)
    assert installation.status is InstallationStatus.ACTIVE


# -- dry run ---------------------------------------------------------------------------


async def test_dry_run_writes_nothing(env: Env) -> None:
    await env.configure(plan_contact_limit=2)
    existing = await env.api(
        "POST",
        f"/lists/{env.list_id}/members",
        json={"email_address": "ann.lee0@bakery-customers.com", "status": "unsubscribed"},
    )
    assert existing.status_code == 200
    people(env, 4)
    env.connector.put("bad", "not-an-email")
    before = await env.writes()

    report = await env.sync(dry_run=True)

    assert report.dry_run
    assert report.status is RunStatus.COMPLETED
    assert (report.created, report.updated) == (3, 1)
    assert report.failed == Counter({"invalid email": 1})
    assert sorted(report.merge_fields_created) == ["CITY", "LOYALTYSCO"]  # would be created
    assert report.warnings and "limit of 2" in report.warnings[0]
    update = next(p for p in report.preview if p.action == "update")
    assert update.platform_key == "c0" and "unsubscribed" in (update.detail or "")
    assert await env.writes() == before
    assert list(await env.members()) == ["ann.lee0@bakery-customers.com"]
    async with env.db.sessions() as session:
        counts = await count_records(session=session, installation_id=env.installation_id)
        checkpoint = await get_checkpoint(
            session=session, installation_id=env.installation_id, stream=CONTACTS
        )
        runs = await list_runs(session=session, installation_id=env.installation_id)
        config = await get_sync_config(session=session, installation_id=env.installation_id)
    assert sum(counts.values()) == 0
    assert checkpoint is None
    assert runs[0].dry_run and runs[0].status is RunStatus.COMPLETED
    assert config is not None and config.field_map["city"] == ""  # not resolved for real


async def test_dry_run_after_a_sync_previews_the_changes(env: Env) -> None:
    people(env, 3)
    await env.sync()
    env.connector.edit("c1", fields={"city": "Paris"})
    env.connector.edit("c2", email="zoe.lane@bakery-customers.com")
    report = await env.sync(dry_run=True)
    assert (report.updated, report.created, report.read) == (2, 0, 2)
    assert {p.action for p in report.preview} == {"update", "email change"}


# -- progress ----------------------------------------------------------------------


async def test_progress_reports_each_chunk(env: Env) -> None:
    people(env, 1_100)
    updates: list[Progress] = []
    await env.sync(progress=updates.append, options=FAST_OPTIONS)
    assert [u.done for u in updates] == sorted(u.done for u in updates)
    assert updates[-1].done == 1_100
    assert updates[-1].total == 1_100
    assert updates[-1].sent == 1_100
    assert updates[-1].checkpoint == env.connector.all()[-1].cursor
    assert all(u.rate > 0 for u in updates)


# -- the platform's stream -----------------------------------------------------------


class ScriptedConnector(MemoryConnector):
    """Yields exactly the given pages, whatever `after` says (a platform mid-change)."""

    def __init__(self, pages: list[list[Contact]]) -> None:
        super().__init__()
        self.pages = pages

    async def contacts(self, *, after: str | None, page_size: int) -> AsyncIterator[list[Contact]]:
        for page in self.pages:
            yield [c for c in page if after is None or c.cursor > after]


def _contact(n: int, cursor: int, city: str = "Atlanta") -> Contact:
    return Contact(
        key=f"c{n}",
        email=f"ann.lee{n}@bakery-customers.com",
        consent=Consent.GRANTED,
        cursor=f"{cursor:06d}",
        fields={"city": city},
    )


@pytest.fixture
async def slow_env(db: Db, cipher: TokenCipher) -> AsyncIterator[Env]:
    """Bigger chunks take longer (1 ms per member), so chunks can finish out of order."""
    async for made in new_env(db, cipher, latency_per_item_ms=1.0):
        yield made


async def test_a_contact_changed_during_the_run_ends_with_its_newest_version(
    slow_env: Env,
) -> None:
    env = slow_env
    first = [_contact(n, n + 1) for n in range(500)]
    # the second chunk is tiny, so without care it would reach Mailchimp first
    second = [_contact(0, 501, city="Newer")]
    env.connector = ScriptedConnector([first, second])
    env.options = SyncOptions(sleep=no_sleep, retry_delay=0.0, max_in_flight=2)

    report = await env.sync()

    assert report.status is RunStatus.COMPLETED
    member = (await env.members())["ann.lee0@bakery-customers.com"]
    assert member["merge_fields"]["CITY"] == "Newer"
    assert report.read == 501 and report.created + report.updated == 501
    env.connector = ScriptedConnector([[_contact(0, 999, city="Newer")]])
    again = await env.sync()
    assert (again.unchanged, again.write_calls) == (1, 0)  # the stored hash is the newest


async def test_contacts_out_of_cursor_order_stop_the_run(env: Env) -> None:
    env.connector = ScriptedConnector([[_contact(1, 5), _contact(2, 3)]])
    report = await env.sync()
    assert report.status is RunStatus.FAILED
    assert report.message is not None and "cursor order" in report.message
    assert await env.members() == {}


async def test_a_failing_progress_callback_does_not_fail_the_sync(env: Env) -> None:
    people(env, 3)

    def broken(update: Progress) -> None:
        raise RuntimeError("the terminal went away")

    report = await env.sync(progress=broken)
    assert report.status is RunStatus.COMPLETED
    assert report.created == 3


async def test_stored_hashes_can_be_predicted_offline_so_inbound_changes_do_not_echo(
    env: Env,
) -> None:
    await env.configure(double_optin=False)
    people(env, 3)
    await env.sync()
    async with env.db.sessions() as session:
        config = await get_sync_config(session=session, installation_id=env.installation_id)
        stored = await load_records(
            session=session, installation_id=env.installation_id, keys=["c0", "c1", "c2"]
        )
    assert config is not None
    assert config.field_types == {
        "FNAME": "text",
        "LNAME": "text",
        "CITY": "text",
        "LOYALTYSCO": "number",
    }
    policy = policy_from_config(config)
    for contact in env.connector.all():
        assert contact_hash(contact, policy) == stored[contact.key].content_hash

    # What the inbound processor does for a profile change made in Mailchimp:
    # write it to the platform, then store the hash of the platform's new state.
    await env.action("ann.lee1@bakery-customers.com", action="update_profile",
                     merge_fields={"CITY": "Valdosta"})  # fmt: skip
    changed = env.connector.edit("c1", fields={"city": "Valdosta"})
    async with env.db.sessions.begin() as session:
        await save_records(
            session=session,
            installation_id=env.installation_id,
            records=[
                RecordUpdate(
                    platform_key="c1",
                    email=changed.email,
                    subscriber_hash=stored["c1"].subscriber_hash,
                    content_hash=contact_hash(changed, policy),
                    outcome=RecordOutcome.SYNCED,
                    tags=stored["c1"].tags,
                )
            ],
        )
    before = await env.writes()
    report = await env.sync()
    assert (report.read, report.unchanged, report.write_calls) == (1, 1, 0)
    assert await env.writes() == before


async def test_a_first_sync_over_the_plan_limit_warns(env: Env) -> None:
    await env.configure(plan_contact_limit=3)
    people(env, 5)
    report = await env.sync()
    assert report.status is RunStatus.COMPLETED
    assert len(report.warnings) == 1
    assert "about 5 contacts" in report.warnings[0] and "limit of 3" in report.warnings[0]
    again = await env.sync()  # not the first sync any more: no root lookup, no warning
    assert again.warnings == []


async def test_dry_run_on_a_big_audience_says_create_or_update(env: Env) -> None:
    for n in range(3):
        await env.api(
            "POST",
            f"/lists/{env.list_id}/members",
            json={"email_address": f"someone{n}@bakery-customers.com", "status": "subscribed"},
        )
    people(env, 2)
    env.options = SyncOptions(sleep=no_sleep, retry_delay=0.0, dry_run_lookup_limit=2)
    report = await env.sync(dry_run=True)
    assert (report.create_or_update, report.created, report.updated) == (2, 0, 0)


class PoisonTransport(RecordingTransport):
    """Mailchimp refusing a whole batch call because of one member (a schema error)."""

    poison = "poison.pill@bakery-customers.com"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and self.poison.encode() in request.content:
            self.exchanges.append(Exchange("POST", request.url.path, None, 400))
            return httpx.Response(
                400,
                json={
                    "type": "https://mailchimp.com/developer/marketing/docs/errors/",
                    "title": "Invalid Resource",
                    "status": 400,
                    "detail": "The resource submitted could not be validated.",
                    "instance": "x",
                    "errors": [{"field": "members.17.merge_fields", "message": "Schema error"}],
                },
                headers={"content-type": "application/problem+json"},
            )
        return await super().handle_async_request(request)


async def test_a_batch_refused_as_a_whole_is_halved_down_to_the_culprit(env: Env) -> None:
    people(env, 499)
    env.connector.put("bad", PoisonTransport.poison)
    env.transport = PoisonTransport(env.transport.inner)

    report = await env.sync()

    assert report.status is RunStatus.COMPLETED
    assert report.created == 499
    assert report.failed == Counter({"merge field invalid": 1})
    assert (await records(env))["bad"] is RecordOutcome.PARKED
    assert len(await env.members()) == 499
    assert len(env.batch_bodies()) <= 2 * 9 + 1  # about 2 log2(500) calls, not 500
