"""The world, the model and the checks behind tests/inbound/test_stateful.py.

`Driver` runs one example: a fresh database, the emulator in-process, chimplink's web app,
an installation with an audience, and an in-memory platform. Mailchimp's webhook
deliveries go to a `Sink`; the machine decides which reach chimplink's receiver, when,
and how often. Its async work runs on one
event loop per example, inside one long-lived task that holds the world open (anyio
cancel scopes and the app's lifespan must be entered and left by the same task); each
synchronous rule hands it a coroutine and waits (`_call`).

`Model` holds what the test knows without asking chimplink: who each contact is in
Mailchimp (its contact id, which survives address changes), which status Mailchimp's own
actors gave it, whether the person ever unsubscribed, and, per field (the address
included), which side edited it since chimplink last brought both sides in step ("dirty").

Every chimplink pass is checked by comparing both sides before and after it:

- inbox processing and reconciliation write only to the platform (a sync writes to
  both: it takes in Mailchimp's changes first, then sends the platform's);
- a value written is the other side's current value;
- sync never overwrites a field Mailchimp changed unless the platform changed it too (a
  conflict: the platform wins); the inbound side never overwrites a field the platform
  changed;
- no member's status is ever changed by chimplink; a new member gets `subscribed` only
  with consent (`transactional` otherwise), and only for a contact that has no member;
- `subscribed` is never *sent* for anyone who unsubscribed or was cleaned (request log);
- consent is only ever withdrawn, and only when Mailchimp says unsubscribed or cleaned;
- chimplink's own writes cause no webhook delivery (no echo);
- members disappear only for contacts erased on the platform (deleted permanently).

Together with the end state (both sides equal, the status the model expects, nothing
left to send) these say: both sides converge to a three-way merge of everyone's edits.

Allowed, because Mailchimp or chimplink's design says so (each is named where it is
checked): a contact whose record Mailchimp refused is parked with the reason and may
stay apart (a cleaned contact cannot be edited, only a subscribed one's address
changed); and while one field is changed on both sides, or the record is parked or
failing, the platform wins every field. The last comes from keeping one content hash
per record as the base of the comparison; a base per field would lift it.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hypothesis import event

from chimplink.platforms import Consent, Contact
from chimplink.store.sync_config import save_sync_config
from chimplink.store.sync_state import RecordOutcome
from tests.inbound.conftest import PEOPLE, Scene, Sink, open_scene
from tests.inbound.connector import FIELD_MAP, LookupPlatform
from tests.web.harness import open_world

__all__ = ["TEXT_FIELDS", "Driver", "Model", "Person"]

T = TypeVar("T")

TEXT_FIELDS = ("first_name", "last_name", "city")  # edited on both sides
CHECKED_FIELDS = ("email", *TEXT_FIELDS, "score")  # compared at the end
WITHDRAWN = frozenset({"unsubscribed", "cleaned"})
LABEL = "vip"  # the label the platform toggles (every contact also has "customer")

_BATCH_SUBSCRIBE = re.compile(r"/3\.0/lists/[^/]+/?$")
_MEMBER_WRITE = re.compile(r"/3\.0/lists/[^/]+/members(/[^/]+)?/?$")


class Violation(AssertionError):
    """chimplink broke one of the rules in the module docstring."""


@dataclass
class Person:
    """One platform contact, as the model follows it."""

    key: str
    contact_id: str | None = None  # its Mailchimp member (None: not created yet)
    status: str | None = None  # the status Mailchimp's own actors gave it
    ever_unsubscribed: bool = False
    erased: bool = False
    mc_dirty: set[str] = field(default_factory=set)  # changed in Mailchimp, not yet in step
    # ... while chimplink's record of the contact was parked or failing: it has no base
    # to tell who changed what then, and the platform wins (a known limit, see `_guard`).
    unguarded: set[str] = field(default_factory=set)
    pl_dirty: set[str] = field(default_factory=set)  # changed on the platform, not yet in step


@dataclass
class Model:
    people: dict[str, Person] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)  # every address used → its key
    counter: int = 0

    def next(self) -> int:
        self.counter += 1
        return self.counter

    def alive(self) -> list[str]:
        return sorted(k for k, p in self.people.items() if not p.erased)

    def in_mailchimp(self, action: str) -> list[str]:
        """Contacts with a member on which `action` can happen in Mailchimp.

        Nobody edits a cleaned contact, and only a subscribed contact's address can
        be changed (the emulator enforces both, as Mailchimp does); the person can
        always sign up again or unsubscribe.
        """
        return sorted(
            k
            for k, p in self.people.items()
            if not p.erased
            and p.contact_id is not None
            and (action != "profile" or p.status != "cleaned")
            and (action != "email" or p.status == "subscribed")
        )

    def by_contact_id(self, contact_id: str) -> Person | None:
        for person in self.people.values():
            if person.contact_id == contact_id:
                return person
        return None

    def own(self, email: str, key: str) -> None:
        self.owners[email.strip().lower()] = key


@dataclass(frozen=True)
class Snapshot:
    contacts: dict[str, Contact]  # the platform
    members: dict[str, dict[str, Any]]  # Mailchimp: contact id → member
    deliveries: int  # webhook deliveries Mailchimp sent so far
    sent: int  # requests chimplink sent so far (its transport's log)


def _norm(value: object) -> str:
    return "" if value is None else str(value).strip()


def platform_value(contact: Contact, name: str) -> str:
    if name == "email":
        return contact.email.strip().lower()
    return _norm(contact.fields.get(name))


class Driver:
    """One example's world and the operations the machine's rules perform on it."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.model = Model()
        self.started = False
        self.healthy = True  # False once an operation failed: no end-state check then
        self._runner = asyncio.Runner()
        self._jobs: asyncio.Queue[tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any]] | None]
        self._host: asyncio.Task[None] | None = None
        self._scene: Scene | None = None
        self._sink: Sink | None = None
        self._tags: dict[str, str] = {}

    # -- the event loop ---------------------------------------------------------------

    def _call(self, work: Callable[[], Awaitable[T]]) -> T:
        async def submit() -> T:
            future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
            await self._jobs.put((work, future))
            return await future

        try:
            return self._runner.run(submit())
        except BaseException:
            self.healthy = False
            raise

    async def _host_world(self, ready: asyncio.Future[None]) -> None:
        try:
            async with open_world(self.database_url) as world:
                self._scene = await open_scene(world, LookupPlatform())
                ready.set_result(None)
                while (job := await self._jobs.get()) is not None:
                    work, future = job
                    try:
                        future.set_result(await work())
                    except Exception as exc:
                        future.set_exception(exc)
        except Exception as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    def start(self) -> None:
        async def boot() -> None:
            self._jobs = asyncio.Queue()
            ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._host = asyncio.ensure_future(self._host_world(ready))
            await ready

        self._runner.run(boot())
        self.started = True
        self._call(self._configure)

    def close(self) -> None:
        async def stop() -> None:
            if self._host is not None and not self._host.done():
                await self._jobs.put(None)
            if self._host is not None:
                await asyncio.gather(self._host, return_exceptions=True)

        try:
            self._runner.run(stop())
        finally:
            self._runner.close()

    @property
    def scene(self) -> Scene:
        assert self._scene is not None
        return self._scene

    @property
    def sink(self) -> Sink:
        assert self._sink is not None
        return self._sink

    # -- setting up -----------------------------------------------------------------

    async def _configure(self) -> None:
        scene = self.scene
        # The merge tags the first sync resolved (derived ones included), kept as they are.
        self._tags = {name: await scene.tag(name) for name in FIELD_MAP}
        # Erasure deletes the member permanently (the operator's choice, issue 5).
        async with scene.sessions.begin() as session:
            await save_sync_config(
                session=session,
                installation_id=scene.installation.id,
                list_id=scene.list_id,
                field_map=self._tags,
                erase_permanently=True,
            )
        self._sink = scene.sink()
        # The reconciliation job's first pass (it lists the whole audience once): from
        # then on each sync takes in what changed in Mailchimp first (sync/engine.py).
        await scene.reconcile()
        members = await self._members()
        for key, (email, _) in PEOPLE.items():
            [contact_id] = [c for c, m in members.items() if m["email_address"] == email]
            self.model.people[key] = Person(key, contact_id=contact_id, status="subscribed")
            self.model.own(email, key)
        self.model.counter = len(PEOPLE)

    # -- reading both sides -----------------------------------------------------------

    async def _members(self) -> dict[str, dict[str, Any]]:
        response = await self.scene.api(
            "GET", f"/lists/{self.scene.list_id}/members", params={"count": 1000}
        )
        assert response.status_code == 200, response.text
        return {m["contact_id"]: m for m in response.json()["members"]}

    async def _snapshot(self) -> Snapshot:
        return Snapshot(
            contacts={contact.key: contact for contact in self.scene.platform.all()},
            members=await self._members(),
            deliveries=len(self.sink.received),
            sent=self.scene.world.transport.mark(),
        )

    def member_value(self, member: dict[str, Any], name: str) -> str:
        if name == "email":
            return str(member["email_address"]).strip().lower()
        return _norm(member["merge_fields"].get(self._tags[name]))

    # -- the platform ---------------------------------------------------------------

    def platform_edit(self, key: str, name: str) -> None:
        self.scene.platform.edit(key, fields={name: f"p{self.model.next()}"})
        self.model.people[key].pl_dirty.add(name)

    def platform_toggle_label(self, key: str) -> None:
        labels = set(self.scene.platform[key].labels) ^ {LABEL}
        self.scene.platform.edit(key, labels=labels)

    def platform_change_email(self, key: str) -> None:
        email = f"p{self.model.next()}@example.net"
        self.scene.platform.edit(key, email=email)
        self.model.own(email, key)
        self.model.people[key].pl_dirty.add("email")

    def platform_consent(self, key: str, *, granted: bool) -> None:
        consent = Consent.GRANTED if granted else Consent.WITHDRAWN
        self.scene.platform.edit(key, consent=consent)

    def platform_add(self, *, granted: bool) -> None:
        number = self.model.next()
        key = f"k{number}"
        email = f"n{number}@example.net"
        self.scene.platform.put(
            key,
            email,
            consent=Consent.GRANTED if granted else Consent.WITHDRAWN,
            fields={
                "first_name": f"F{number}",
                "last_name": f"L{number}",
                "city": f"C{number}",
                "score": number,
            },
            labels={"customer"},
        )
        self.model.people[key] = Person(key)
        self.model.own(email, key)

    def platform_erase(self, key: str) -> None:
        self.scene.platform.erase(key)
        self.model.people[key].erased = True

    # -- Mailchimp ------------------------------------------------------------------

    def mailchimp_action(self, key: str, action: str, name: str | None) -> list[bytes]:
        """A subscriber (or an admin) acts in Mailchimp; returns the deliveries it caused."""
        return self._call(lambda: self._mailchimp_action(key, action, name))

    async def _mailchimp_action(self, key: str, action: str, name: str | None) -> list[bytes]:
        person = self.model.people[key]
        assert person.contact_id is not None
        members = await self._members()
        email = members[person.contact_id]["email_address"]
        seen = len(self.sink.received)
        if action == "unsubscribe":
            result = await self.scene.action(email, action="unsubscribe", source="user")
        elif action == "resubscribe":  # through a signup form: only the person can do that
            result = await self.scene.action(email, action="subscribe", source="user")
        elif action == "clean":
            result = await self.scene.action(email, action="clean", reason="hard")
        elif action == "profile":
            assert name is not None
            value = f"m{self.model.next()}"
            result = await self.scene.action(
                email, action="update_profile", merge_fields={self._tags[name]: value}
            )
            person.mc_dirty.add(name)
            await self._guard(person, name)
        else:
            new_email = f"m{self.model.next()}@example.com"
            result = await self.scene.action(
                email, action="change_email", source="admin", new_email=new_email
            )
            self.model.own(new_email, key)
            person.mc_dirty.add("email")
            await self._guard(person, "email")
        person.status = result["status"]
        if person.status in WITHDRAWN:
            person.ever_unsubscribed = True
        return self.sink.bodies()[seen:]

    async def _guard(self, person: Person, name: str) -> None:
        """Note a Mailchimp edit that chimplink cannot protect yet.

        The sync record keeps one content hash: the last content Mailchimp
        acknowledged, the base against which the inbound side tells which side
        changed a field. While a record is parked (Mailchimp refused the platform's
        last change, e.g. an address change of an unsubscribed contact) or failing,
        that hash describes something else, so the platform wins every field and a
        later sync may send its value over this edit. Keeping a base per field would
        need the sync records to store one; until then the model allows it.
        """
        try:
            record = await self.scene.record(person.key)
        except KeyError:
            return
        if record.outcome is not RecordOutcome.SYNCED:
            person.unguarded.add(name)

    def deliver(self, body: bytes, *, times: int) -> None:
        async def post() -> None:
            for _ in range(times):
                response = await self.scene.post(body)
                assert response.status_code == 200, response.text

        self._call(post)

    # -- chimplink --------------------------------------------------------------------

    def sync(self) -> None:
        async def run() -> None:
            report = await self.scene.sync()
            if report.status.value != "completed":
                raise Violation(f"a sync did not complete: {report.message} {report.counts()}")

        self._checked("sync", run)

    def process(self) -> None:
        async def run() -> None:
            await self.scene.process()

        self._checked("process", run)

    def reconcile(self) -> None:
        async def run() -> None:
            report = await self.scene.reconcile()
            if not report.complete:
                raise Violation(f"a reconciliation pass did not complete: {report.counts()}")

        self._checked("reconcile", run)

    def _checked(self, step: str, work: Callable[[], Awaitable[None]]) -> None:
        self.healthy = False
        before = self._call(self._snapshot)
        self._call(work)
        after = self._call(self._snapshot)
        Check(self, step, before, after).run()
        self._settle(after)
        self.healthy = True

    def _settle(self, state: Snapshot) -> None:
        """Fields equal on both sides are in step: nobody's edit is pending any more."""
        for person in self.model.people.values():
            contact = state.contacts.get(person.key)
            member = state.members.get(person.contact_id or "")
            if contact is None or member is None:
                continue
            for name in ("email", *TEXT_FIELDS):
                if platform_value(contact, name) == self.member_value(member, name):
                    person.mc_dirty.discard(name)
                    person.unguarded.discard(name)
                    person.pl_dirty.discard(name)

    # -- the end ----------------------------------------------------------------------

    def converge(self) -> None:
        """Every delivery still pending is lost; chimplink's passes must still converge."""
        for _ in range(2):
            self.process()
            self.reconcile()
            self.sync()
        before = self._call(self.scene.writes)
        self.sync()
        assert self.scene.reports[-1].write_calls == 0, self.scene.reports[-1].counts()
        assert self._call(self.scene.writes) == before
        self._call(self._check_end_state)

    async def _check_end_state(self) -> None:
        members = await self._members()
        expected: set[str] = set()
        for person in self.model.people.values():
            if person.erased:
                if person.contact_id in members:
                    raise Violation(f"erased contact {person.key} is still in Mailchimp")
                continue
            contact = self.scene.platform[person.key]
            if person.contact_id is None or person.contact_id not in members:
                raise Violation(f"contact {person.key} has no member in Mailchimp")
            expected.add(person.contact_id)
            member = members[person.contact_id]
            if member["status"] != person.status:
                raise Violation(
                    f"{person.key}: status {member['status']}, expected {person.status}"
                )
            if person.status in WITHDRAWN and contact.consent is not Consent.WITHDRAWN:
                raise Violation(f"{person.key}: {person.status}, yet consent not withdrawn")
            record = await self.scene.record(person.key)
            if record.outcome is RecordOutcome.PARKED:
                # Mailchimp refused what the platform changed (a cleaned contact cannot be
                # edited, only a subscribed one's address changed): the record says why,
                # and it is tried again when the platform changes the contact again.
                if not record.reason:
                    raise Violation(f"{person.key} is parked without a reason")
                continue
            for name in CHECKED_FIELDS:
                mine, theirs = platform_value(contact, name), self.member_value(member, name)
                if mine != theirs:
                    raise Violation(f"{person.key}.{name}: platform {mine!r}, Mailchimp {theirs!r}")
            tags = {t["name"] for t in member["tags"]}
            if tags != set(contact.labels):
                raise Violation(f"{person.key}: tags {sorted(tags)} for labels {contact.labels}")
        if set(members) != expected:
            strays = [members[c]["email_address"] for c in set(members) - expected]
            raise Violation(f"members no contact accounts for: {strays}")


class Check:
    """The rules one chimplink pass must keep (module docstring), from before and after."""

    def __init__(self, driver: Driver, step: str, before: Snapshot, after: Snapshot) -> None:
        self.driver = driver
        self.model = driver.model
        self.step = step
        self.before = before
        self.after = after

    def fail(self, message: str) -> None:
        raise Violation(f"{self.step}: {message}")

    def run(self) -> None:
        if self.after.deliveries != self.before.deliveries:
            self.fail("chimplink's own writes came back as webhook deliveries (an echo)")
        self._requests()
        self._created()
        self._removed()
        for contact_id in self.before.members.keys() & self.after.members.keys():
            self._member(contact_id)
        self._platform()
        self._tell()

    def _tell(self) -> None:
        """What the pass did, for `pytest --hypothesis-show-statistics` (is the machine
        reaching the interesting cases?)."""
        before, after = self.before, self.after
        if before.members != after.members:
            event(f"{self.step}: changed Mailchimp")
        if before.contacts != after.contacts:
            event(f"{self.step}: changed the platform")
        if after.members.keys() - before.members.keys():
            event(f"{self.step}: created a member")
        if before.members.keys() - after.members.keys():
            event(f"{self.step}: deleted a member")

    def _requests(self) -> None:
        """`subscribed` is never sent for someone who unsubscribed or was cleaned."""
        for sent in self.driver.scene.world.transport.since(self.before.sent):
            if sent.method == "GET" or not sent.body:
                continue
            try:
                body = json.loads(sent.body)
            except ValueError:
                continue
            entries: list[dict[str, Any]] = []
            if sent.method == "POST" and _BATCH_SUBSCRIBE.search(sent.path):
                entries = list(body.get("members", []))
            elif _MEMBER_WRITE.search(sent.path):
                entries = [body]
            for entry in entries:
                if "subscribed" not in (entry.get("status"), entry.get("status_if_new")):
                    continue
                email = str(entry.get("email_address", "")).strip().lower()
                key = self.model.owners.get(email)
                if key is None:
                    self.fail(f"sent `subscribed` for an address no contact has: {email}")
                elif self.model.people[key].ever_unsubscribed:
                    self.fail(f"sent `subscribed` for {key}, who unsubscribed in Mailchimp")

    def _created(self) -> None:
        for contact_id in self.after.members.keys() - self.before.members.keys():
            member = self.after.members[contact_id]
            email = str(member["email_address"]).lower()
            if self.step != "sync":
                self.fail(f"{self.step} created a member in Mailchimp")
            owners = [
                person
                for person in self.model.people.values()
                if person.contact_id is None
                and not person.erased
                and person.key in self.after.contacts
                and platform_value(self.after.contacts[person.key], "email") == email
            ]
            if not owners:
                key = self.model.owners.get(email)
                self.fail(f"created a second member for contact {key} ({email})")
            [person] = owners
            consent = self.after.contacts[person.key].consent
            status = "subscribed" if consent is Consent.GRANTED else "transactional"
            if member["status"] != status:
                self.fail(f"created {person.key} as {member['status']} with consent {consent}")
            person.contact_id = contact_id
            person.status = member["status"]

    def _removed(self) -> None:
        for contact_id in self.before.members.keys() - self.after.members.keys():
            person = self.model.by_contact_id(contact_id)
            if person is None or not person.erased or self.step != "sync":
                key = person.key if person else None
                self.fail(f"the member of contact {key} disappeared")

    def _member(self, contact_id: str) -> None:
        person = self.model.by_contact_id(contact_id)
        before, after = self.before.members[contact_id], self.after.members[contact_id]
        if person is None:
            self.fail(f"a member no contact accounts for: {after['email_address']}")
            return
        if before["status"] != after["status"]:
            self.fail(f"changed {person.key}'s status from {before['status']} to {after['status']}")
        contact = self.after.contacts.get(person.key)
        # A field changed on both sides hides which side changed the others: the stored
        # hash is of the whole content, and no mix of the two sides' values reproduces
        # it. The platform then wins every field (a known limit; see `_guard`).
        conflict = bool(person.mc_dirty & person.pl_dirty - {"email"})
        for name in ("email", *TEXT_FIELDS):
            old, new = self.driver.member_value(before, name), self.driver.member_value(after, name)
            if old == new:
                continue
            if self.step != "sync":
                self.fail(f"wrote {person.key}.{name} to Mailchimp")
            if contact is None:
                self.fail(f"wrote {person.key}.{name} after the contact was erased")
                return
            if new != platform_value(contact, name):
                self.fail(f"wrote {person.key}.{name}={new!r}, which the platform does not hold")
            if name in person.mc_dirty - person.pl_dirty - person.unguarded and not conflict:
                self.fail(f"overwrote {person.key}.{name} changed in Mailchimp: {old!r} → {new!r}")

    def _platform(self) -> None:
        for key in self.before.contacts.keys() & self.after.contacts.keys():
            old, new = self.before.contacts[key], self.after.contacts[key]
            if old == new:
                continue
            person = self.model.people[key]
            member = self.after.members.get(person.contact_id or "")
            if member is None:
                self.fail(f"changed contact {key}, which has no member in Mailchimp")
                return
            for name in ("email", *TEXT_FIELDS):
                was, now = platform_value(old, name), platform_value(new, name)
                if was == now:
                    continue
                if now != self.driver.member_value(member, name):
                    self.fail(f"applied {key}.{name}={now!r}, which Mailchimp does not hold")
                if name in person.pl_dirty:
                    self.fail(f"overwrote {key}.{name} changed on the platform: {was!r} → {now!r}")
            if old.consent != new.consent and (
                new.consent is not Consent.WITHDRAWN or member["status"] not in WITHDRAWN
            ):
                self.fail(f"consent of {key} went {old.consent} → {new.consent}")
            if old.labels != new.labels or old.fields.get("score") != new.fields.get("score"):
                self.fail(f"changed {key}'s labels or score")
