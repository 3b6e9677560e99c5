"""The sync pages: mapping form → preview (a dry run) → Sync now → runs and per-record outcomes.

Real app, real emulator (in-process), real database (SQLite and PostgreSQL),
and the demo platform as the connector (`CHIMPLINK_CONNECTOR=demo`): 60
contacts, 6 of them with an invalid or fake email. The job runner runs, as
in `chimplink serve`, so "Sync now" really runs in the background.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from chimplink.jobs.locks import shared_locks
from chimplink.jobs.sync_tasks import sync_job_name
from chimplink.platforms import Consent, Contact
from chimplink.platforms.demo import DemoPlatform
from chimplink.store import mark_needs_reconnect
from chimplink.store.sync_config import NoConsentPolicy, get_sync_config, save_sync_config
from chimplink.store.sync_state import RecordOutcome, count_records, list_runs
from chimplink.sync.mapping import MappingError, MemberPolicy, build_member
from tests.web.harness import World, csrf_in, installations_of, open_world, row_counts

EMAIL = "owner@sync-bakery.example"
CONTACTS = 60
INVALID = 6  # round(60 * 0.1)
_RECORD_KEY = re.compile(r'<tr class="record [^"]*" data-outcome="[^"]*">\s*<td>([^<]*)</td>')


@pytest.fixture
async def platform_db(tmp_path: Path) -> Path:
    path = tmp_path / "platform.db"
    platform = await DemoPlatform.create(path, contacts=CONTACTS, invalid_share=INVALID / CONTACTS)
    await platform.aclose()
    return path


@pytest.fixture
async def world(database_url: str, platform_db: Path) -> AsyncIterator[World]:
    async with open_world(
        database_url, run_jobs=True, connector="demo", connector_url=str(platform_db)
    ) as opened:
        yield opened


@dataclass
class Setup:
    world: World
    browser: Any
    installation_id: str
    list_id: str
    token: str
    account_id: str

    @property
    def base(self) -> str:
        return f"/installations/{self.installation_id}"

    async def get(self, path: str = "", **kwargs: Any) -> httpx.Response:
        response: httpx.Response = await self.browser.get(self.base + path, **kwargs)
        return response

    async def post(self, path: str, data: dict[str, str], **kwargs: Any) -> httpx.Response:
        response: httpx.Response = await self.browser.post(self.base + path, data=data, **kwargs)
        return response

    async def csrf(self) -> str:
        return csrf_in(await self.get("/uninstall"))  # a page that always has a form

    async def writes(self) -> dict[str, int]:
        """Write calls the emulator answered for the account, by operation."""
        stats = await self.world.mailchimp.api_stats()
        requests = stats["accounts"].get(self.account_id, {}).get("requests", {})
        return {
            operation: sum(statuses.values())
            for operation, statuses in requests.items()
            if not operation.startswith("GET ")
        }

    async def members(self) -> dict[str, dict[str, Any]]:
        response = await self.world.mailchimp.client.get(
            f"/3.0/lists/{self.list_id}/members",
            params={"count": 1000},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert response.status_code == 200, response.text
        return {m["email_address"].lower(): m for m in response.json()["members"]}

    async def wait_for_sync(self) -> None:
        runner = self.world.app.state.chimplink.runner
        async with asyncio.timeout(30):
            while True:
                activity = runner.activity(sync_job_name(self.installation_id))
                if activity is not None and not activity.running:
                    return
                await asyncio.sleep(0.01)


async def _connected(world: World, tenant: str = "user-1") -> Setup:
    account = await world.mailchimp.account("Sync Bakery", EMAIL)
    list_id = await world.mailchimp.create_list(account["access_token"], "Customers")
    browser = world.browser()
    await browser.enter(tenant)
    assert (await browser.connect(EMAIL)).status_code == 303
    [installation] = await installations_of(world, tenant)
    return Setup(
        world, browser, installation.id, list_id, account["access_token"], account["account_id"]
    )


async def _with_audience(world: World) -> Setup:
    setup = await _connected(world)
    page = await setup.get("/audiences")
    chosen = await setup.post("/audiences", {"csrf_token": csrf_in(page), "list_id": setup.list_id})
    assert chosen.status_code == 303, chosen.text
    assert chosen.headers["location"] == f"{setup.base}/sync/settings"
    return setup


def _form(page: httpx.Response, **changes: str | None) -> dict[str, str]:
    """The settings form as the page filled it, with `changes` (None: unticked/absent)."""
    data: dict[str, str] = {"csrf_token": csrf_in(page)}
    for name, value in re.findall(r'name="(tag\.[^"]+)" id="[^"]+" value="([^"]*)"', page.text):
        data[name] = value
    for name in re.findall(r'<input type="checkbox" name="([^"]+)" id="[^"]+" checked', page.text):
        data[name] = "on"
    checked = re.search(r'name="no_consent" id="[^"]+" value="([^"]+)" checked', page.text)
    if checked:
        data["no_consent"] = checked.group(1)
    data["plan_contact_limit"] = ""
    data["action"] = "save"
    for name, value in changes.items():
        key = name.replace("__", ".")
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


async def _configure(setup: Setup, **changes: str | None) -> httpx.Response:
    page = await setup.get("/sync/settings")
    assert page.status_code == 200, page.text
    return await setup.post("/sync/settings", _form(page, **changes))


async def _contacts(platform_db: Path) -> list[Contact]:
    async with await DemoPlatform.open(platform_db) as platform:
        found: list[Contact] = []
        async for page in platform.connector().contacts(after=None, page_size=1000):
            found += page
        return found


def _malformed(contact: Contact) -> bool:
    """What the engine itself refuses to send (sync/mapping.py), whatever the policy."""
    try:
        build_member(contact, MemberPolicy(list_id="any"))
    except MappingError as exc:
        return exc.field == "email"
    return False


def _text(page: httpx.Response) -> str:
    """The page's text without tags and with whitespace collapsed (for phrases)."""
    return " ".join(re.sub(r"<[^>]+>", " ", page.text).split())


# -- the mapping form ---------------------------------------------------------------------


async def test_choosing_the_audience_leads_to_the_form_with_suggested_merge_tags(
    world: World,
) -> None:
    setup = await _with_audience(world)
    page = await setup.get("/sync/settings")
    assert page.status_code == 200
    assert "chimplink now follows the audience Customers" in page.text
    tags = dict(re.findall(r'name="tag\.([^"]+)" id="[^"]+" value="([^"]*)"', page.text))
    assert tags == {
        "first_name": "FNAME",  # the audience's own default merge fields
        "last_name": "LNAME",
        "phone": "PHONE",
        "company": "COMPANY",
        "birthday": "BIRTHDAY",
        "signup_date": "SIGNEDUP",
        "plan": "PLAN",
        "lifetime_value": "LIFETIMEVA",
    }
    assert 'name="no_consent" id="no_consent_transactional" value="transactional" checked' in (
        page.text
    )
    assert 'id="erase_permanently" checked' not in page.text  # off by default
    assert "Cannot be undone" in page.text


async def test_saving_the_form_stores_the_settings(world: World) -> None:
    setup = await _with_audience(world)
    saved = await _configure(
        setup,
        sync__company=None,  # not synced
        tag__plan="plan_tier",  # lowercase is taken as uppercase
        no_consent="skip",
        double_optin="on",
        plan_contact_limit="2,000",
        # A field the platform does not describe is ignored.
        sync__password_hash="on",
        tag__password_hash="PWHASH",
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"{setup.base}/sync"
    async with world.services.sessions() as session:
        config = await get_sync_config(session=session, installation_id=setup.installation_id)
    assert config is not None
    assert config.list_id == setup.list_id
    assert dict(config.field_map) == {
        "first_name": "FNAME",
        "last_name": "LNAME",
        "phone": "PHONE",
        "birthday": "BIRTHDAY",
        "signup_date": "SIGNEDUP",
        "plan": "PLAN_TIER",
        "lifetime_value": "LIFETIMEVA",
    }
    assert config.sync_labels is True
    assert config.no_consent is NoConsentPolicy.SKIP
    assert config.double_optin is True
    assert config.erase_permanently is False
    assert config.plan_contact_limit == 2000
    page = await setup.get("/sync")
    assert "The sync settings are saved." in page.text

    again = await setup.get("/sync/settings")  # the form shows what was saved
    assert 'name="tag.plan" id="tag-7" value="PLAN_TIER"' in again.text
    assert 'name="sync.company" id="sync-3" checked' not in again.text
    assert 'value="skip" checked' in again.text

    # Label → tag names set in the config (not on the form) survive a save of the form.
    async with world.services.sessions.begin() as session:
        await save_sync_config(
            session=session,
            installation_id=setup.installation_id,
            list_id=setup.list_id,
            field_map=config.field_map,
            label_tags={"vip": "VIP customer"},
        )
    assert (await setup.post("/sync/settings", _form(again))).status_code == 303
    async with world.services.sessions() as session:
        kept = await get_sync_config(session=session, installation_id=setup.installation_id)
    assert kept is not None and kept.label_tags == {"vip": "VIP customer"}
    assert kept.no_consent is NoConsentPolicy.SKIP


# Each bad submission, and a phrase of the message that must come back with it.
BAD_SUBMISSIONS: list[tuple[dict[str, str | None], str]] = [
    ({"tag__plan": "SUBSCRIPTIONPLAN"}, "SUBSCRIPTIONPLAN has 16 characters"),
    ({"tag__plan": "PLAN TIER"}, "use letters A-Z, digits and underscores only"),
    ({"tag__plan": "PLÄN"}, "use letters A-Z, digits and underscores only"),
    ({"tag__plan": "  "}, "Enter a merge tag, or choose not to sync this field."),
    ({"tag__plan": "email"}, "EMAIL is the contact&#39;s email address in Mailchimp."),
    ({"tag__plan": "FNAME"}, "FNAME is already used for First name"),
    ({"no_consent": "subscribe-everyone"}, "have not agreed to marketing emails"),
    ({"no_consent": None}, "have not agreed to marketing emails"),
    ({"plan_contact_limit": "lots"}, "as a whole number"),
    ({"plan_contact_limit": "-5"}, "as a whole number"),
    ({"double_optin": "maybe"}, "a value chimplink does not know"),
    ({"action": "delete-everything"}, "Press Save or Save and preview."),
]


async def test_bad_values_come_back_with_a_message_and_nothing_is_saved(world: World) -> None:
    setup = await _with_audience(world)
    before = await row_counts(world)
    for changes, message in BAD_SUBMISSIONS:
        response = await _configure(setup, **changes)
        assert response.status_code == 400, changes
        assert 'id="form-errors"' in response.text
        assert "Nothing was saved." in response.text
        assert message in response.text, changes
        # The form keeps what was typed, so it can be corrected.
        typed = (changes.get("tag__plan") or "").strip().upper()
        if typed:
            assert f'name="tag.plan" id="tag-7" value="{typed}"' in response.text
        assert await row_counts(world) == before, changes


async def test_without_a_platform_the_pages_say_so(database_url: str) -> None:
    async with open_world(database_url, run_jobs=True) as world:  # CHIMPLINK_CONNECTOR=none
        setup = await _connected(world)
        page = await setup.get("/audiences")
        chosen = await setup.post(
            "/audiences", {"csrf_token": csrf_in(page), "list_id": setup.list_id}
        )
        assert chosen.headers["location"] == "/"  # nothing to map: back home
        settings = await setup.get("/sync/settings")
        assert settings.status_code == 409
        assert "No platform is connected to chimplink" in settings.text
        status = await setup.get("/sync")
        assert status.status_code == 200
        assert 'id="sync-now"' not in status.text


async def test_without_the_job_runner_sync_now_says_where_syncs_run(
    database_url: str, platform_db: Path
) -> None:
    async with open_world(
        database_url, run_jobs=False, connector="demo", connector_url=str(platform_db)
    ) as world:
        setup = await _with_audience(world)
        assert (await _configure(setup)).status_code == 303
        response = await setup.post("/sync", {"csrf_token": await setup.csrf()})
        assert response.status_code == 503
        assert "Syncs run on the schedule here" in response.text
        assert "Nothing was started." in response.text
        async with world.services.sessions() as session:
            assert await list_runs(session=session, installation_id=setup.installation_id) == []


# -- the preview ---------------------------------------------------------------------------


async def test_the_preview_counts_and_samples_without_writing_anything(
    world: World, platform_db: Path
) -> None:
    setup = await _with_audience(world)
    assert (await _configure(setup)).status_code == 303
    writes_before = await setup.writes()
    page = await setup.post("/sync/preview", {"csrf_token": await setup.csrf()})
    assert page.status_code == 200, page.text
    text = _text(page)
    # Only a malformed address is known to fail before Mailchimp sees it; Mailchimp's
    # own refusals (fake, disposable) show up in the sync itself.
    contacts = await _contacts(platform_db)
    unsendable = sum(1 for c in contacts if _malformed(c))
    assert 0 < unsendable < INVALID
    assert "Nothing was changed" in text
    assert f"Contacts read from your platform: {CONTACTS}" in text
    assert f"New in Mailchimp (added) {CONTACTS - unsendable}" in text
    assert f"Would fail {unsendable}" in text
    assert f"— invalid email {unsendable}" in text
    # Merge fields the audience lacks would be created; the default ones are reused.
    created = re.search(r'id="merge-fields-created">(.*?)</p>', page.text, re.S)
    assert created is not None
    for tag in ("BIRTHDAY", "COMPANY", "LIFETIMEVA", "PLAN", "SIGNEDUP"):
        assert f"<code>{tag}</code>" in created.group(1)
    assert "FNAME" not in created.group(1)
    # Samples per kind, with the addresses (the user's own data, shown to the user).
    fail = re.search(r'id="sample-fail".*?</section>', page.text, re.S)
    assert fail is not None
    assert fail.group(0).count("<tr>") == unsendable + 1  # a header row and one per record
    assert "Invalid email: not an email address" in fail.group(0)
    create = re.search(r'id="sample-create".*?</section>', page.text, re.S)
    assert create is not None
    assert create.group(0).count("<tr>") == 10 + 1  # SAMPLE_SIZE
    assert any(c.email in create.group(0) for c in contacts)
    assert "Subscribed (your platform recorded their consent)" in create.group(0)
    assert 'id="sync-now"' in page.text

    assert await setup.writes() == writes_before  # not one write reached Mailchimp
    assert await setup.members() == {}
    async with world.services.sessions() as session:
        counts = await count_records(session=session, installation_id=setup.installation_id)
        [run] = await list_runs(session=session, installation_id=setup.installation_id)
    assert sum(counts.values()) == 0  # no per-record state either
    assert run.dry_run


async def test_save_and_preview_with_the_skip_policy_and_a_size_warning(
    world: World, platform_db: Path
) -> None:
    setup = await _with_audience(world)
    without_consent = sum(
        1 for c in await _contacts(platform_db) if c.consent is not Consent.GRANTED
    )
    assert without_consent > 0
    page = await _configure(setup, no_consent="skip", plan_contact_limit="10", action="preview")
    assert page.status_code == 200, page.text
    text = _text(page)
    assert f"Left out on purpose (no marketing consent) {without_consent}" in text
    assert 'id="sample-skip"' in page.text
    assert "over the plan&#39;s limit of 10" in page.text  # the engine's size warning
    async with world.services.sessions() as session:
        config = await get_sync_config(session=session, installation_id=setup.installation_id)
    assert config is not None and config.no_consent is NoConsentPolicy.SKIP


# -- Sync now, runs and outcomes -----------------------------------------------------------


async def test_sync_now_runs_in_the_background_and_shows_every_outcome(
    world: World, platform_db: Path
) -> None:
    setup = await _with_audience(world)
    assert (await _configure(setup)).status_code == 303
    contacts = await _contacts(platform_db)
    started = await setup.post("/sync", {"csrf_token": await setup.csrf()})
    assert started.status_code == 303
    assert started.headers["location"] == f"{setup.base}/sync"
    await setup.wait_for_sync()

    members = await setup.members()
    assert len(members) == CONTACTS - INVALID
    page = await setup.get("/sync")
    assert "Refresh" not in page.headers  # nothing running: no reload
    text = _text(page)
    assert "The sync has started." in text
    assert f"complete — {CONTACTS - INVALID} added, 0 updated, 0 unchanged, {INVALID} failed" in (
        text
    )
    run = re.search(r'<tr id="run-1" data-status="completed">(.*?)</tr>', page.text, re.S)
    assert run is not None
    assert [int(n) for n in re.findall(r'<td class="n">(\d+)</td>', run.group(1))] == [
        CONTACTS - INVALID,
        0,
        0,
        0,
        INVALID,
    ]
    assert f"invalid email: {INVALID}" in page.text
    assert f"Not synced: needs a fix ({INVALID})" in text
    assert f"Synced ({CONTACTS - INVALID})" in text

    failed = await setup.get("/sync", params={"outcome": "parked"})
    rows = re.findall(r'<tr class="record outcome-parked".*?</tr>', failed.text, re.S)
    assert len(rows) == INVALID
    bad = {c.email for c in contacts if c.email.lower() not in members}
    assert len(bad) == INVALID
    for row in rows:
        assert '<strong class="reason-category">Invalid email</strong>' in row
        assert "does not send this contact again until it changes" in row
        email = re.search(r'<td class="email">([^<]*)</td>', row)
        assert email is not None
        assert email.group(1).replace("&#39;", "'") in bad
    assert "looks fake or invalid" in failed.text  # Mailchimp's own words

    # Not retried: the next sync sends nothing and leaves them parked.
    writes = await setup.writes()
    assert (await setup.post("/sync", {"csrf_token": await setup.csrf()})).status_code == 303
    await setup.wait_for_sync()
    assert await setup.writes() == writes
    again = await setup.get("/sync")
    assert "complete — nothing changed on your platform since the sync before." in _text(again)
    assert f"Not synced: needs a fix ({INVALID})" in _text(again)

    home = _text(await setup.browser.get("/"))
    assert "Contact sync Last sync" in home
    assert "nothing changed on your platform since the sync before" in home


async def test_records_are_paged_and_filtered(world: World) -> None:
    setup = await _with_audience(world)
    assert (await _configure(setup)).status_code == 303
    assert (await setup.post("/sync", {"csrf_token": await setup.csrf()})).status_code == 303
    await setup.wait_for_sync()

    first = await setup.get("/sync")
    keys = re.findall(
        r'<tr class="record [^"]*" data-outcome="[^"]*">\s*<td>([^<]*)</td>', first.text
    )
    assert len(keys) == 50  # PAGE_SIZE
    next_href = re.search(r'href="([^"]+)" id="next-page"', first.text)
    assert next_href is not None
    second = await setup.browser.get(next_href.group(1).replace("&amp;", "&"))
    more = re.findall(
        r'<tr class="record [^"]*" data-outcome="[^"]*">\s*<td>([^<]*)</td>', second.text
    )
    assert len(more) == CONTACTS - 50
    assert not set(keys) & set(more)
    assert 'id="next-page"' not in second.text
    assert 'id="first-page"' in second.text

    synced = await setup.get("/sync", params={"outcome": "synced"})
    assert 'data-outcome="parked"' not in synced.text
    skipped = await setup.get("/sync", params={"outcome": "skipped"})
    assert "No contact has this outcome." in skipped.text

    for params in ({"outcome": "exploded"}, {"after": "x" * 600}, {"after": ""}):
        bad = await setup.get("/sync", params=params)
        assert bad.status_code == 400
        assert "This list cannot be shown" in bad.text


async def test_a_second_click_while_running_starts_nothing_more(world: World) -> None:
    setup = await _with_audience(world)
    assert (await _configure(setup)).status_code == 303
    runner = world.app.state.chimplink.runner
    lock = shared_locks().of(setup.installation_id)
    async with lock:  # other work of this installation holds it: the sync waits
        first = await setup.post("/sync", {"csrf_token": await setup.csrf()})
        assert first.status_code == 303
        activity = runner.activity(sync_job_name(setup.installation_id))
        assert activity is not None and activity.running
        second = await setup.post("/sync", {"csrf_token": await setup.csrf()})
        assert second.status_code == 303
        assert runner.activity(sync_job_name(setup.installation_id)) is activity

        page = await setup.get("/sync")
        assert "A sync of this account is already running." in page.text
        assert page.headers["Refresh"] == "3"  # the page polls while it runs
        assert 'id="sync-now" disabled' in page.text
        progress = (await setup.get("/sync/progress")).json()
        assert progress["running"] is True
        assert progress["state"] == "running"

        # Neither a preview nor new settings while it runs.
        preview = await setup.post("/sync/preview", {"csrf_token": await setup.csrf()})
        assert preview.status_code == 409
        assert "A sync is running" in preview.text
        saved = await _configure(setup, no_consent="skip")
        assert saved.status_code == 400
        assert "save the settings when it has finished" in saved.text
    await setup.wait_for_sync()
    async with world.services.sessions() as session:
        runs = await list_runs(session=session, installation_id=setup.installation_id)
    assert len(runs) == 1  # one run, not two
    done = (await setup.get("/sync/progress")).json()
    assert done["running"] is False
    assert done["state"] == "completed"
    assert done["last_run"]["counts"]["created"] == CONTACTS - INVALID
    assert done["last_run"]["counts"]["failed"] == {"invalid email": INVALID}


async def test_emails_never_reach_the_logs(world: World, platform_db: Path) -> None:
    setup = await _with_audience(world)
    assert (await _configure(setup)).status_code == 303
    with capture_logs() as events:
        await setup.post("/sync/preview", {"csrf_token": await setup.csrf()})
        await setup.post("/sync", {"csrf_token": await setup.csrf()})
        await setup.wait_for_sync()
        await setup.get("/sync", params={"outcome": "parked"})
    logged = repr(events).lower()
    assert events  # the flow does log (run finished, sync started…)
    for contact in await _contacts(platform_db):
        assert contact.email.lower() not in logged


async def test_changing_the_audience_moves_the_settings_along(world: World) -> None:
    setup = await _with_audience(world)
    assert (await _configure(setup, no_consent="skip")).status_code == 303
    other = await world.mailchimp.create_list(setup.token, "Newsletter")
    page = await setup.get("/audiences")
    chosen = await setup.post("/audiences", {"csrf_token": csrf_in(page), "list_id": other})
    assert chosen.headers["location"] == "/"  # settings exist: no need to map again
    async with world.services.sessions() as session:
        config = await get_sync_config(session=session, installation_id=setup.installation_id)
    assert config is not None
    assert config.list_id == other
    assert config.no_consent is NoConsentPolicy.SKIP


# -- bad input: CSRF, other tenants, paused installations ----------------------------------


async def test_forms_without_the_csrf_token_change_nothing(world: World) -> None:
    setup = await _with_audience(world)
    page = await setup.get("/sync/settings")
    before = await row_counts(world)
    for path, data in (
        ("/sync/settings", {**_form(page), "csrf_token": "forged"}),
        ("/sync/settings", {k: v for k, v in _form(page).items() if k != "csrf_token"}),
        ("/sync/preview", {}),
        ("/sync", {"csrf_token": "forged"}),
    ):
        response = await setup.post(path, data)
        assert response.status_code == 403, path
        assert "This form has expired" in response.text
    assert await row_counts(world) == before
    assert world.app.state.chimplink.runner.activity(sync_job_name(setup.installation_id)) is None


async def test_other_tenants_and_unknown_ids_get_the_one_404_page(world: World) -> None:
    setup = await _with_audience(world)
    assert (await _configure(setup)).status_code == 303
    await world.mailchimp.account("Mallory Shop", "mallory@other-shop.example")
    intruder = world.browser()
    await intruder.enter("user-2", name="Mallory")
    assert (await intruder.connect("mallory@other-shop.example")).status_code == 303
    [own] = await installations_of(world, "user-2")
    not_found = (await intruder.get("/no-such-page")).content
    token = await intruder.csrf_from(f"/installations/{own.id}/uninstall")
    before = await row_counts(world)
    for installation_id in (setup.installation_id, "no-such-installation"):
        base = f"/installations/{installation_id}"
        for method, path in (
            ("GET", "/sync/settings"),
            ("POST", "/sync/settings"),
            ("POST", "/sync/preview"),
            ("GET", "/sync"),
            ("POST", "/sync"),
            ("GET", "/sync/progress"),
        ):
            if method == "GET":
                response = await intruder.get(base + path)
            else:
                response = await intruder.post(
                    base + path, data={"csrf_token": token, "no_consent": "skip"}
                )
            assert response.status_code == 404, (installation_id, path)
            assert response.content == not_found
    assert await row_counts(world) == before
    assert world.app.state.chimplink.runner.activity(sync_job_name(setup.installation_id)) is None


async def test_a_paused_installation_asks_to_reconnect_and_starts_nothing(world: World) -> None:
    setup = await _with_audience(world)
    assert (await _configure(setup)).status_code == 303
    async with world.services.sessions.begin() as session:
        await mark_needs_reconnect(session=session, installation_id=setup.installation_id)
    page = await setup.get("/sync")
    assert 'id="sync-now"' not in page.text
    assert "no longer accepts chimplink&#39;s access" in page.text
    started = await setup.post("/sync", {"csrf_token": await setup.csrf()})
    assert started.status_code == 303
    assert "Nothing was started." in (await setup.get("/sync")).text
    assert world.app.state.chimplink.runner.activity(sync_job_name(setup.installation_id)) is None
    preview = await setup.post("/sync/preview", {"csrf_token": await setup.csrf()})
    assert preview.status_code == 409
    assert 'id="reconnect"' in preview.text
    home = await setup.browser.get("/")
    assert f'id="sync-status-{setup.installation_id}"' in home.text
    async with world.services.sessions() as session:
        counts = await count_records(session=session, installation_id=setup.installation_id)
    assert counts[RecordOutcome.SYNCED] == 0
