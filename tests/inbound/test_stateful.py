"""A Hypothesis state machine over both directions of the contact sync.

Rules interleave platform edits (fields, labels, address, consent, new contacts,
erasure), subscriber actions in Mailchimp (unsubscribe, re-subscribe through a form,
profile edit, address change, cleaned), webhook deliveries that are lost, duplicated or
reordered, and chimplink's three passes (outbound sync, inbox processing, reconciliation)
in any order. The emulator runs in-process; its deliveries go to a sink and the machine
decides their fate.

The model does not re-implement chimplink. It holds what each side did and checks every
change chimplink makes against the rules of a three-way merge (tests/inbound/model.py):
nobody's edit is overwritten unless the other side changed the same thing (then the
platform wins), no status is ever changed by chimplink, no member is created twice for
one contact, nothing echoes, and `subscribed` is never sent for anyone who unsubscribed.
At the end (every remaining delivery lost), a few rounds of processing, reconciliation
and sync bring both sides to the same state, which the model then checks field by field.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy.engine import make_url

from chimplink.store.migrate import upgrade
from tests.inbound.model import TEXT_FIELDS, Driver, Model

# Kept small: an example (setup, 30 steps, convergence) takes about 0.5 s on SQLite and
# 1 s on PostgreSQL, so the whole test stays under a minute.
MAX_CONTACTS = 6
_BASE = settings(
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SETTINGS = {
    "sqlite": settings(_BASE, max_examples=30),
    "postgresql": settings(_BASE, max_examples=12),
}

DatabaseFactory = Callable[[], Iterator[str]]


class SyncMachine(RuleBasedStateMachine):
    """One example: a fresh database, emulator and installation (see `Driver`)."""

    databases: DatabaseFactory  # set per test by `_machine_for`

    def __init__(self) -> None:
        super().__init__()
        self._database = self.databases()
        self.driver = Driver(next(self._database))
        self.model: Model = self.driver.model
        self.pending: list[bytes] = []  # deliveries Mailchimp sent that nobody received yet

    @initialize()
    def connect(self) -> None:
        self.driver.start()

    # -- the platform ---------------------------------------------------------------------

    @rule(data=st.data(), field=st.sampled_from(TEXT_FIELDS))
    def platform_edits_a_field(self, data: st.DataObject, field: str) -> None:
        key = data.draw(st.sampled_from(self.model.alive()))
        self.driver.platform_edit(key, field)

    @rule(data=st.data())
    def platform_toggles_a_label(self, data: st.DataObject) -> None:
        self.driver.platform_toggle_label(data.draw(st.sampled_from(self.model.alive())))

    @rule(data=st.data())
    def platform_changes_an_address(self, data: st.DataObject) -> None:
        self.driver.platform_change_email(data.draw(st.sampled_from(self.model.alive())))

    @rule(data=st.data(), granted=st.booleans())
    def platform_records_consent(self, data: st.DataObject, granted: bool) -> None:
        key = data.draw(st.sampled_from(self.model.alive()))
        self.driver.platform_consent(key, granted=granted)

    @precondition(lambda self: len(self.model.people) < MAX_CONTACTS)
    @rule(granted=st.booleans())
    def platform_adds_a_contact(self, granted: bool) -> None:
        self.driver.platform_add(granted=granted)

    @precondition(lambda self: len(self.model.alive()) > 1)
    @rule(data=st.data())
    def platform_erases_a_contact(self, data: st.DataObject) -> None:
        self.driver.platform_erase(data.draw(st.sampled_from(self.model.alive())))

    # -- Mailchimp (one rule per action, so that Mailchimp's side acts as often as the
    # platform's) -----------------------------------------------------------------------

    def _act(self, data: st.DataObject, action: str) -> None:
        candidates = self.model.in_mailchimp(action)
        if not candidates:
            return
        key = data.draw(st.sampled_from(candidates), label="contact")
        field = (
            data.draw(st.sampled_from(TEXT_FIELDS), label="field") if action == "profile" else None
        )
        self.pending.extend(self.driver.mailchimp_action(key, action, field))

    @rule(data=st.data())
    def subscriber_unsubscribes(self, data: st.DataObject) -> None:
        self._act(data, "unsubscribe")

    @rule(data=st.data())
    def subscriber_signs_up_again(self, data: st.DataObject) -> None:
        self._act(data, "resubscribe")

    @rule(data=st.data())
    def subscriber_edits_the_profile(self, data: st.DataObject) -> None:
        self._act(data, "profile")

    @rule(data=st.data())
    def address_changes_in_mailchimp(self, data: st.DataObject) -> None:
        self._act(data, "email")

    @rule(data=st.data())
    def address_bounces(self, data: st.DataObject) -> None:
        self._act(data, "clean")

    # -- webhooks -------------------------------------------------------------------------

    @precondition(lambda self: bool(self.pending))
    @rule(data=st.data(), fate=st.sampled_from(["lost", "once", "twice", "again later"]))
    def a_delivery_arrives(self, data: st.DataObject, fate: str) -> None:
        # Any pending delivery, not the oldest: deliveries are reordered.
        body = self.pending.pop(data.draw(st.integers(0, len(self.pending) - 1)))
        if fate == "lost":
            return
        self.driver.deliver(body, times=2 if fate == "twice" else 1)
        if fate == "again later":
            self.pending.append(body)  # a retry, after other deliveries

    @precondition(lambda self: len(self.pending) > 1)
    @rule()
    def the_pending_deliveries_arrive_newest_first(self) -> None:
        while self.pending:
            self.driver.deliver(self.pending.pop(), times=1)

    # -- chimplink ------------------------------------------------------------------------

    @rule()
    def sync(self) -> None:
        self.driver.sync()

    @rule()
    def process_inbox(self) -> None:
        self.driver.process()

    @rule()
    def reconcile(self) -> None:
        self.driver.reconcile()

    def teardown(self) -> None:
        try:
            if self.driver.started and self.driver.healthy:
                self.driver.converge()
        finally:
            self.driver.close()
            self._database.close()


@contextmanager
def _sqlite_databases(tmp: Path) -> Iterator[DatabaseFactory]:
    """A migrated SQLite file copied for each example (migrating each time is slower)."""
    template = tmp / "template.db"
    upgrade(f"sqlite+aiosqlite:///{template}")

    def databases() -> Iterator[str]:
        path = tmp / f"{uuid.uuid4().hex}.db"
        shutil.copyfile(template, path)
        try:
            yield f"sqlite+aiosqlite:///{path}"
        finally:
            path.unlink(missing_ok=True)

    yield databases


@contextmanager
def _postgres_databases(admin: str) -> Iterator[DatabaseFactory]:
    """A database per example, created from a migrated template database."""

    def url(name: str) -> str:
        return (
            make_url(admin)
            .set(drivername="postgresql+psycopg", database=name)
            .render_as_string(hide_password=False)
        )

    def execute(statement: str) -> None:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(statement)

    template = f"test_{uuid.uuid4().hex[:20]}"
    execute(f'CREATE DATABASE "{template}"')
    try:
        upgrade(url(template))

        def databases() -> Iterator[str]:
            name = f"test_{uuid.uuid4().hex[:20]}"
            execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            try:
                yield url(name)
            finally:
                execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        yield databases
    finally:
        execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')


def _machine_for(databases: DatabaseFactory) -> type[SyncMachine]:
    return type("SyncMachineOn", (SyncMachine,), {"databases": staticmethod(databases)})


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_both_sides_converge_and_nobody_is_resubscribed(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "sqlite":
        opened = _sqlite_databases(tmp_path)
    else:
        opened = _postgres_databases(request.getfixturevalue("postgres_admin"))
    with opened as databases:
        run_state_machine_as_test(_machine_for(databases), settings=SETTINGS[backend])
