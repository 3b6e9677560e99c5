"""The demo's story, played in code over real HTTP: `chimplink demo --headless`.

    async with open_stack(contacts=200) as stack:       # cli/demo.py
        result = await run_story(stack, console=console)
        result.exit_code                                 # 0 only if every check passed

Each step acts as its person would — the platform's user in a browser
(following links, submitting the forms the pages serve, CSRF tokens
included), the subscriber in Mailchimp (the emulator's control plane), the
platform's back office (the demo platform) — and then checks the outcome
from the *other* side: what Mailchimp holds (read through its API with the
account's own API key, never through chimplink), what the platform holds,
what chimplink's database holds. A step passes only if all its checks do.
The story stops at the first failed step: later steps build on earlier ones.

The settings are saved, previewed and synced on the web app's own pages
(`/installations/{id}/sync/settings`, `/installations/{id}/sync`), and
Mailchimp's webhooks reach the platform through the embedded job runner,
exactly as in the interactive demo.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, Self, TypeVar
from urllib.parse import urljoin

import httpx
from rich.console import Console

from chimplink.platforms import Consent, Contact
from chimplink.store import InstallationNotFound, find_installation, get_access_token
from chimplink.store.inbox import InboxStatus, count_inbox
from chimplink.store.sync_config import get_sync_config
from chimplink.store.sync_state import RunStatus, SyncRun, count_records, list_runs

if TYPE_CHECKING:
    from chimplink.cli.demo import DemoStack

__all__ = [
    "Browser",
    "DemoError",
    "Mailchimp",
    "Page",
    "StepResult",
    "StoryResult",
    "member_hash",
    "run_story",
]

DEMO_ACCOUNT = "Demo Bakery"
DEMO_AUDIENCE = "Demo Bakery customers"
EDITED_FIELD = "last_name"
# Long enough for the embedded runner's inbox task (every 5 s) and a slow machine.
DEFAULT_WAIT = 30.0
_POLL = 0.1

T = TypeVar("T")


def member_hash(email: str) -> str:
    """Mailchimp's subscriber hash: MD5 of the lowercased address (REFERENCE.md §8.1)."""
    return hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest()


class DemoError(Exception):
    """The demo cannot start or cannot find its parts (a port in use, a bad environment)."""


class StepFailed(Exception):
    """A check of the story did not hold; the message says what was seen instead."""


def _check(condition: object, problem: str) -> None:
    if not condition:
        raise StepFailed(problem)


def _need(value: T | None, problem: str) -> T:
    """`value`, which the story needs to go on; StepFailed(problem) when it is missing."""
    if value is None:
        raise StepFailed(problem)
    return value


# -- pages, as a browser reads them ------------------------------------------------------


@dataclass
class Form:
    """An HTML form: where it goes and what a browser would send if submitted as it is."""

    id: str | None
    action: str
    method: str
    defaults: dict[str, str] = field(default_factory=dict)
    options: dict[str, list[str]] = field(default_factory=dict)  # radios and selects
    buttons: list[tuple[str | None, str, str]] = field(default_factory=list)  # name, value, text

    def button(self, text: str) -> tuple[str | None, str, str] | None:
        """The button labelled `text` (case aside), else the first whose label contains it."""
        wanted = text.casefold()
        exact = [b for b in self.buttons if b[2].casefold() == wanted]
        return next(iter(exact or [b for b in self.buttons if wanted in b[2].casefold()]), None)


class _PageParser(HTMLParser):
    """Links by id, forms with their default values, and every element's attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: dict[str, str] = {}
        self.forms: list[Form] = []
        self.elements: list[dict[str, str]] = []
        self._form: Form | None = None
        self._button: list[Any] | None = None  # [name, value, text]
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.elements.append(values)
        if tag == "a" and "id" in values and "href" in values:
            self.links[values["id"]] = values["href"]
        elif tag == "form":
            self._form = Form(
                id=values.get("id"),
                action=values.get("action", ""),
                method=values.get("method", "get").lower(),
            )
            self.forms.append(self._form)
        elif self._form is not None:
            self._field(tag, values, "checked" in values or "selected" in values)

    def _field(self, tag: str, values: dict[str, str], chosen: bool) -> None:
        form = self._form
        assert form is not None
        name = values.get("name")
        kind = values.get("type", "submit" if tag == "button" else "text").lower()
        if tag == "button" and kind != "submit":
            return
        if tag == "button":
            self._button = [name, values.get("value", ""), ""]
        elif kind == "submit":
            form.buttons.append((name, values.get("value", ""), values.get("value", "")))
        elif tag == "option":
            if self._select is not None:
                value = values.get("value", "")
                form.options.setdefault(self._select, []).append(value)
                if chosen or self._select not in form.defaults:
                    form.defaults[self._select] = value
        elif not name:
            return
        elif tag == "select":
            self._select = name
        elif tag == "textarea":
            self._textarea = name
            form.defaults[name] = ""
        elif kind in ("radio", "checkbox"):
            value = values.get("value", "on")
            if kind == "radio":
                form.options.setdefault(name, []).append(value)
            if chosen:
                form.defaults[name] = value
        elif kind not in ("reset", "image", "file"):
            form.defaults[name] = values.get("value", "")

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button[2] = f"{self._button[2]} {data.strip()}".strip()
        elif self._textarea is not None and self._form is not None:
            self._form.defaults[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None and self._form is not None:
            name, value, text = self._button
            self._form.buttons.append((name, value, text or value))
            self._button = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._form = None


@dataclass
class Page:
    url: str
    status: int
    text: str
    links: dict[str, str]
    forms: list[Form]
    elements: list[dict[str, str]]

    @classmethod
    def of(cls, response: httpx.Response) -> Self:
        parser = _PageParser()
        parser.feed(response.text)
        return cls(
            str(response.url),
            response.status_code,
            response.text,
            parser.links,
            parser.forms,
            parser.elements,
        )

    def form(self, form_id: str) -> Form:
        found = next((f for f in self.forms if f.id == form_id), None)
        return _need(found, f"{self.url} has no form #{form_id} (status {self.status})")

    def form_with_button(self, text: str) -> Form | None:
        return next((f for f in self.forms if f.method == "post" and f.button(text)), None)

    def link(self, link_id: str) -> str:
        _check(link_id in self.links, f"{self.url} has no link #{link_id} (status {self.status})")
        return urljoin(self.url, self.links[link_id])

    def values_of(self, attribute: str) -> list[str]:
        return [element[attribute] for element in self.elements if attribute in element]


class Browser:
    """One browser with its cookie jar; it goes wherever pages and redirects send it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def open(self, url: str) -> Page:
        return Page.of(await self.client.get(url, follow_redirects=True))

    async def get(self, url: str) -> httpx.Response:
        """One request, redirects not followed (to see where they point)."""
        return await self.client.get(url)

    async def submit(
        self,
        page: Page,
        form: Form,
        *,
        button: str | None = None,
        values: Mapping[str, str] | None = None,
    ) -> Page:
        """Submit `form` as a user would: its defaults, the user's changes, the button clicked."""
        data = dict(form.defaults)
        data.update(values or {})
        if button is not None:
            clicked = _need(form.button(button), f"the form on {page.url} has no {button!r} button")
            if clicked[0]:
                data[clicked[0]] = clicked[1]
        url = urljoin(page.url, form.action or page.url)
        if form.method == "post":
            response = await self.client.post(url, data=data, follow_redirects=True)
        else:
            response = await self.client.get(url, params=data, follow_redirects=True)
        return Page.of(response)


# -- Mailchimp, as its account owner sees it --------------------------------------------


@dataclass
class Mailchimp:
    """The emulator, read with the Demo Bakery account's own API key (not chimplink's token)."""

    client: httpx.AsyncClient
    account_id: str
    list_id: str

    @classmethod
    @asynccontextmanager
    async def observe(cls, emulator_url: str) -> AsyncIterator[Mailchimp]:
        """Find the seeded account, its API key and its audience through the control plane."""
        async with httpx.AsyncClient(base_url=emulator_url, timeout=30) as client:
            accounts = (await client.get("/_emulator/accounts")).json()["accounts"]
            account_id = _only(
                [a["account_id"] for a in accounts if a["account_name"] == DEMO_ACCOUNT],
                f"the {DEMO_ACCOUNT} account",
            )
            tokens = (await client.get("/_emulator/state")).json()["tokens"]
            api_key = _only(
                [
                    key
                    for key, record in tokens.items()
                    if record["account_id"] == account_id and record["kind"] == "api_key"
                ],
                f"the {DEMO_ACCOUNT} account's API key",
            )
            client.auth = httpx.BasicAuth("demo", api_key)
            lists = (
                await client.get("/3.0/lists", params={"fields": "lists.id,lists.name"})
            ).json()
            list_id = _only(
                [item["id"] for item in lists["lists"] if item["name"] == DEMO_AUDIENCE],
                f"the {DEMO_AUDIENCE} audience",
            )
            yield cls(client, account_id, list_id)

    async def _json(self, path: str, **params: Any) -> Any:
        response = await self.client.get(path, params=params)
        response.raise_for_status()
        return response.json()

    async def member(self, email: str) -> dict[str, Any] | None:
        response = await self.client.get(f"/3.0/lists/{self.list_id}/members/{member_hash(email)}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        found: dict[str, Any] = response.json()
        return found

    async def member_count(self) -> int:
        found = await self._json(
            f"/3.0/lists/{self.list_id}/members", count=1, fields="total_items"
        )
        return int(found["total_items"])

    async def webhooks(self) -> list[dict[str, Any]]:
        found = await self._json(f"/3.0/lists/{self.list_id}/webhooks")
        hooks: list[dict[str, Any]] = found["webhooks"]
        return hooks

    async def unsubscribe(self, email: str) -> dict[str, Any]:
        """The subscriber clicks "unsubscribe" in an email (control plane, source user)."""
        response = await self.client.post(
            f"/_emulator/lists/{self.list_id}/members/{member_hash(email)}/actions",
            json={"action": "unsubscribe", "source": "user"},
        )
        response.raise_for_status()
        member: dict[str, Any] = response.json()
        return member

    async def flush_deliveries(self) -> None:
        (await self.client.post("/_emulator/deliveries/flush")).raise_for_status()

    async def deliveries(self, webhook_id: str) -> list[dict[str, Any]]:
        found = await self._json("/_emulator/deliveries", webhook_id=webhook_id)
        records: list[dict[str, Any]] = found["deliveries"]
        return records

    async def requests_served(self) -> int:
        """API requests the emulator has answered for the account (whoever made them)."""
        stats = await self._json("/_emulator/stats")
        entry = stats["accounts"].get(self.account_id) or {}
        return int(entry.get("total_requests", 0))

    async def tokens_issued(self, client_id: str) -> int:
        stats = await self._json("/_emulator/oauth-stats")
        return int(stats["clients"].get(client_id, {}).get("tokens_issued", 0))


def _only(found: list[str], what: str) -> str:
    if len(found) != 1:
        raise DemoError(f"the emulator holds {len(found)} of {what}, not 1: was it seeded?")
    return found[0]


# -- results -----------------------------------------------------------------------------


@dataclass
class StepResult:
    number: int
    title: str
    ok: bool
    seconds: float
    figures: list[str]
    problem: str | None = None


@dataclass
class StoryResult:
    steps: list[StepResult]
    installation_id: str | None
    list_id: str

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    @property
    def failed(self) -> StepResult | None:
        return next((step for step in self.steps if not step.ok), None)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


@dataclass(frozen=True)
class _Sync:
    """One sync run as the story saw it (from the run's stored counts)."""

    status: str
    counts: Mapping[str, Any]
    message: str | None
    seconds: float
    requests: int  # API requests the emulator answered meanwhile

    def count(self, name: str) -> int:
        value = self.counts.get(name, 0)
        return sum(value.values()) if isinstance(value, dict) else int(value or 0)

    def failures(self) -> str:
        failed: dict[str, int] = dict(self.counts.get("failed") or {})
        return ", ".join(f"{reason} {count}" for reason, count in sorted(failed.items())) or "none"


# -- the story ---------------------------------------------------------------------------


class Story:
    """The steps, sharing what each one learns (installation id, contacts chosen, ...)."""

    def __init__(
        self,
        stack: DemoStack,
        browser: Browser,
        mailchimp: Mailchimp,
        *,
        wait: float = DEFAULT_WAIT,
    ) -> None:
        self.stack = stack
        self.browser = browser
        self.mailchimp = mailchimp
        self.wait = wait
        self.services = stack.services()
        self.installation_id: str | None = None
        self.webhook_id: str | None = None
        self.unsubscribed: Contact | None = None
        self._candidates = stack.subscribable_keys()

    # -- helpers -------------------------------------------------------------------------

    def _installation_id(self) -> str:
        return _need(self.installation_id, "no installation (the connect step did not run)")

    def _url(self, path: str) -> str:
        return f"{self.stack.app_url}{path}"

    async def _until(self, what: str, probe: Callable[[], Awaitable[Any]]) -> Any:
        """Poll `probe` until it returns something truthy; StepFailed after `self.wait` s."""
        deadline = time.monotonic() + self.wait
        while True:
            found = await probe()
            if found:
                return found
            _check(time.monotonic() < deadline, f"{what}: not seen within {self.wait:g} s")
            await asyncio.sleep(_POLL)

    async def _subscribed_contact(self) -> Contact:
        """The next demo contact that is a subscribed member in Mailchimp now."""
        for key in self._candidates:
            contact = await self.stack.platform.get(key)
            if contact is None or contact.consent is not Consent.GRANTED:
                continue
            member = await self.mailchimp.member(contact.email)
            if member is not None and member.get("status") == "subscribed":
                return contact
        raise StepFailed("no platform contact with consent is a subscribed member in Mailchimp")

    # -- 1. connect ----------------------------------------------------------------------

    async def connect(self) -> list[str]:
        home = await self.browser.open(self.stack.link)
        _check(home.status == 200, f"the platform link answered {home.status}")
        started = await self.browser.get(home.link("connect-button"))
        authorize = started.headers.get("location", "")
        _check(
            started.status_code == 303
            and authorize.startswith(f"{self.stack.emulator_url}/oauth2/authorize"),
            f"Connect did not send the browser to Mailchimp's consent page ({started.status_code})",
        )
        consent = await self.browser.open(authorize)
        form = _need(
            consent.form_with_button("Allow"),
            f"Mailchimp's consent page shows no Allow button ({consent.status})",
        )
        _check(
            self.mailchimp.account_id in form.options.get("account_id", []),
            f"the consent page does not offer the {DEMO_ACCOUNT} account",
        )
        landed = await self.browser.submit(
            consent, form, button="Allow", values={"account_id": self.mailchimp.account_id}
        )
        ids = landed.values_of("data-installation-id")
        _check(
            landed.status == 200 and len(ids) == 1,
            f"after Allow the browser landed on {landed.url} ({landed.status}) "
            f"with {len(ids)} connected account(s)",
        )
        self.installation_id = ids[0]
        async with self.services.sessions() as session:
            installation = await find_installation(session=session, installation_id=ids[0])
        _check(installation is not None, "chimplink did not record the installation")
        tokens = await self.mailchimp.tokens_issued(self.stack.settings.mailchimp_client_id or "")
        _check(tokens == 1, f"Mailchimp issued {tokens} tokens to chimplink, not 1")
        return [f"installation {ids[0]}", f"{DEMO_ACCOUNT} connected; Mailchimp issued 1 token"]

    # -- 2. audience ---------------------------------------------------------------------

    async def choose_audience(self) -> list[str]:
        installation_id = self._installation_id()
        home = await self.browser.open(self._url("/"))
        page = await self.browser.open(home.link(f"choose-audience-{installation_id}"))
        form = page.form("audience-form")
        _check(
            self.mailchimp.list_id in form.options.get("list_id", []),
            f"the audience page does not list {DEMO_AUDIENCE}",
        )
        done = await self.browser.submit(
            page, form, button="Use this audience", values={"list_id": self.mailchimp.list_id}
        )
        _check(done.status == 200, f"choosing the audience answered {done.status}")
        ours = [
            hook
            for hook in await self.mailchimp.webhooks()
            if hook["url"].startswith(self._url("/webhooks/mailchimp/"))
        ]
        _check(len(ours) == 1, f"Mailchimp has {len(ours)} chimplink webhooks on the audience")
        hook = ours[0]
        _check(
            hook["sources"].get("api") is False,
            "the webhook listens to API changes too (chimplink's own writes would echo back)",
        )
        self.webhook_id = hook["id"]
        events = sorted(name for name, wanted in hook["events"].items() if wanted)
        return [
            f"webhook {hook['id']} registered",
            f"events {', '.join(events)}; sources user, admin",
        ]

    # -- 3. settings and preview ---------------------------------------------------------

    async def save_settings(self) -> list[str]:
        installation_id = self._installation_id()
        page = await self.browser.open(self._url(f"/installations/{installation_id}/sync/settings"))
        # As offered: every platform field synced, under the merge tags chimplink suggests.
        before = {run.id for run in await self._runs(installation_id)}
        preview = await self.browser.submit(
            page, page.form("sync-settings-form"), button="Save and preview"
        )
        _check(preview.status == 200, f"Save and preview answered {preview.status}")
        async with self.services.sessions() as session:
            config = await get_sync_config(session=session, installation_id=installation_id)
        config = _need(config, "chimplink holds no sync settings for the installation")
        _check(
            config.list_id == self.mailchimp.list_id,
            f"the sync settings name audience {config.list_id}, not {self.mailchimp.list_id}",
        )
        runs = [run for run in await self._runs(installation_id) if run.id not in before]
        _check(
            len(runs) == 1 and runs[0].dry_run and runs[0].status is RunStatus.COMPLETED,
            "the preview did not complete as one dry run",
        )
        would = _Sync(runs[0].status.value, runs[0].counts, runs[0].message, 0.0, 0)
        members = await self.mailchimp.member_count()
        _check(members == 0, f"the preview wrote to Mailchimp: the audience has {members} members")
        return [
            f"{len(config.field_map)} fields mapped; no consent → {config.no_consent.value}",
            f"preview: would add {would.count('created'):,}, would fail: {would.failures()}; "
            "Mailchimp untouched",
        ]

    # -- syncing (steps 4 and 6) ---------------------------------------------------------

    async def _runs(self, installation_id: str) -> list[SyncRun]:
        async with self.services.sessions() as session:
            return await list_runs(session=session, installation_id=installation_id, limit=5)

    async def _sync(self) -> _Sync:
        """Sync now, on the sync page; wait for the run to finish and read its counts."""
        installation_id = self._installation_id()
        page = await self.browser.open(self._url(f"/installations/{installation_id}/sync"))
        form = page.form("sync-now-form")
        before = {run.id for run in await self._runs(installation_id)}
        requests_before = await self.mailchimp.requests_served()
        started = time.monotonic()
        await self.browser.submit(page, form, button="Sync now")

        async def finished() -> SyncRun | None:
            done = [
                run
                for run in await self._runs(installation_id)
                if run.id not in before and not run.dry_run and run.finished_at is not None
            ]
            return done[0] if done else None

        run: SyncRun = await self._until("the sync run's end", finished)
        seconds = time.monotonic() - started
        requests = await self.mailchimp.requests_served() - requests_before
        return _Sync(run.status.value, run.counts, run.message, seconds, requests)

    @staticmethod
    def _sync_figures(sync: _Sync) -> list[str]:
        return [
            f"{sync.count('read'):,} contacts read: {sync.count('created'):,} created, "
            f"{sync.count('updated'):,} updated, {sync.count('unchanged'):,} unchanged, "
            f"{sync.count('skipped'):,} skipped, failed: {sync.failures()}",
            f"API calls: {sync.requests} answered by Mailchimp "
            f"({_plural(sync.count('write_calls'), 'write')} by chimplink's count)",
        ]

    # -- 4. initial sync -----------------------------------------------------------------

    async def initial_sync(self) -> list[str]:
        sync = await self._sync()
        _check(
            sync.status == RunStatus.COMPLETED.value,
            f"the sync ended {sync.status}: {sync.message or 'no message'}",
        )
        total = self.stack.contacts
        read = sync.count("read")
        _check(read == total, f"the sync read {read} of the platform's {total} contacts")
        accounted = sum(
            sync.count(name)
            for name in ("created", "updated", "unchanged", "skipped", "parked", "failed")
        )
        _check(
            accounted == total and sync.count("retrying") == 0,
            f"{accounted} of {total} contacts accounted for, {sync.count('retrying')} retrying",
        )
        members = await self.mailchimp.member_count()
        _check(
            members == sync.count("created"),
            f"Mailchimp's audience holds {members} members; chimplink says it created "
            f"{sync.count('created')}",
        )
        rate = read / sync.seconds if sync.seconds > 0 else 0.0
        return [
            *self._sync_figures(sync),
            f"{rate:,.0f} contacts/s ({sync.seconds:.2f} s from Sync now to the run's end)",
            f"Mailchimp's audience: {members:,} members",
        ]

    # -- 5. a subscriber unsubscribes in Mailchimp ---------------------------------------

    async def unsubscribe(self) -> list[str]:
        installation_id = self._installation_id()
        contact = await self._subscribed_contact()
        delivered_before = await self._delivered(contact.email)
        member = await self.mailchimp.unsubscribe(contact.email)
        _check(member.get("status") == "unsubscribed", "Mailchimp did not unsubscribe the member")
        self.unsubscribed = contact
        started = time.monotonic()
        await self.mailchimp.flush_deliveries()
        await self._until(
            "the unsubscribe webhook delivered to chimplink",
            lambda: self._delivered_after(contact.email, delivered_before),
        )
        delivered = time.monotonic() - started

        async def processed() -> bool:
            async with self.services.sessions() as session:
                counts = await count_inbox(session=session, installation_id=installation_id)
            return counts[InboxStatus.PENDING] == 0 and counts[InboxStatus.PROCESSED] > 0

        await self._until("chimplink's inbox processed", processed)
        applied = time.monotonic() - started
        now = _need(
            await self.stack.platform.get(contact.key), f"platform contact {contact.key} is gone"
        )
        _check(
            now.consent is Consent.WITHDRAWN,
            f"the platform still shows consent {now.consent.value} for contact {contact.key}",
        )
        return [
            f"contact {contact.key} unsubscribed in Mailchimp",
            f"webhook delivered in {delivered:.2f} s; platform shows consent withdrawn "
            f"{applied:.2f} s after the click",
        ]

    async def _delivered(self, email: str) -> int:
        assert self.webhook_id is not None
        records = await self.mailchimp.deliveries(self.webhook_id)
        return sum(
            1
            for record in records
            if record["type"] == "unsubscribe"
            and record["outcome"] == "delivered"
            and member_hash(email) in _body_hashes(record["body"])
        )

    async def _delivered_after(self, email: str, before: int) -> bool:
        return await self._delivered(email) > before

    # -- 6. the platform edits a contact -------------------------------------------------

    async def edit(self) -> list[str]:
        installation_id = self._installation_id()
        async with self.services.sessions() as session:
            config = await get_sync_config(session=session, installation_id=installation_id)
        tag = (config.field_map.get(EDITED_FIELD) if config is not None else None) or ""
        _check(tag, f"the platform's {EDITED_FIELD} is not mapped to a merge field")
        contact = await self._subscribed_contact()
        current = contact.fields.get(EDITED_FIELD)
        new_value = "Okafor" if current != "Okafor" else "Lindqvist"
        await self.stack.platform.edit(contact.key, **{EDITED_FIELD: new_value})
        sync = await self._sync()
        _check(
            sync.status == RunStatus.COMPLETED.value,
            f"the sync ended {sync.status}: {sync.message or 'no message'}",
        )
        member = await self.mailchimp.member(contact.email)
        seen = (member or {}).get("merge_fields", {}).get(tag)
        _check(seen == new_value, f"Mailchimp's {tag} is {seen!r}, not {new_value!r}")
        writes = sync.count("write_calls")
        _check(writes == 1, f"one platform change took {writes} Mailchimp writes, not 1")
        if self.unsubscribed is not None:
            unsubscribed = await self.mailchimp.member(self.unsubscribed.email)
            status = (unsubscribed or {}).get("status")
            _check(
                status == "unsubscribed",
                f"the member who unsubscribed is {status} in Mailchimp now",
            )
        return [
            f"contact {contact.key}: {EDITED_FIELD} → {new_value}; Mailchimp's {tag} has it",
            *self._sync_figures(sync),
            "the unsubscribed member stays unsubscribed (no echo)",
        ]

    # -- 7. disconnect -------------------------------------------------------------------

    async def disconnect(self) -> list[str]:
        installation_id = self._installation_id()
        async with self.services.sessions() as session:
            records = sum(
                (await count_records(session=session, installation_id=installation_id)).values()
            )
        home = await self.browser.open(self._url("/"))
        confirm = await self.browser.open(home.link(f"disconnect-{installation_id}"))
        done = await self.browser.submit(
            confirm, confirm.form("uninstall-form"), button="Disconnect"
        )
        _check(
            done.status == 200 and "Mailchimp account disconnected" in done.text,
            f"disconnecting answered {done.status} at {done.url}",
        )
        left = [
            hook
            for hook in await self.mailchimp.webhooks()
            if hook["url"].startswith(self._url("/webhooks/mailchimp/"))
        ]
        _check(not left, f"{len(left)} chimplink webhook(s) remain at Mailchimp")
        async with self.services.sessions() as session:
            installation = await find_installation(session=session, installation_id=installation_id)
            config = await get_sync_config(session=session, installation_id=installation_id)
            remaining = sum(
                (await count_records(session=session, installation_id=installation_id)).values()
            )
            try:
                await get_access_token(
                    session=session, cipher=self.services.cipher, installation_id=installation_id
                )
                token_kept = True
            except InstallationNotFound:
                token_kept = False
        _check(installation is None, "chimplink still holds the installation")
        _check(not token_kept, "chimplink still holds the access token")
        _check(config is None, "chimplink still holds the sync settings")
        _check(remaining == 0, f"chimplink still holds {remaining} sync records")
        return [
            "webhook deleted at Mailchimp",
            f"token, sync settings and {records:,} sync records deleted at chimplink",
        ]


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _body_hashes(body: str) -> set[str]:
    """Subscriber hashes of the addresses in a form-encoded delivery body."""
    pairs = httpx.QueryParams(body)
    return {member_hash(value) for name, value in pairs.multi_items() if name == "data[email]"}


_STEPS: tuple[tuple[str, str], ...] = (
    ("connect", "Connect: platform link → Connect Mailchimp → Allow"),
    ("choose_audience", "Choose the audience: chimplink registers its webhook"),
    ("save_settings", "Sync settings: audience, field mapping, consent rule"),
    ("initial_sync", "Initial sync of the platform's contacts"),
    (
        "unsubscribe",
        "A subscriber unsubscribes in Mailchimp → the platform shows consent withdrawn",
    ),
    ("edit", "The platform edits a contact → Mailchimp has it"),
    ("disconnect", "Disconnect → clean"),
)


def _print_step(console: Console, step: StepResult) -> None:
    mark = "[green]✓[/green]" if step.ok else "[red]✗[/red]"
    console.print(f"{mark} {step.number}. {step.title}  [dim]({step.seconds:.2f} s)[/dim]")
    for line in step.figures:
        console.print(f"     {line}")
    if step.problem:
        console.print(f"     [red]{step.problem}[/red]")


async def run_story(
    stack: DemoStack, *, console: Console | None = None, wait: float = DEFAULT_WAIT
) -> StoryResult:
    """Play every step against `stack` (served), print each with its figures, stop at a failure."""
    console = console or Console(quiet=True)
    steps: list[StepResult] = []
    async with (
        Mailchimp.observe(stack.emulator_url) as mailchimp,
        httpx.AsyncClient(timeout=60) as client,
    ):
        story = Story(stack, Browser(client), mailchimp, wait=wait)
        for number, (name, title) in enumerate(_STEPS, 1):
            started = time.monotonic()
            try:
                figures, problem = await getattr(story, name)(), None
            except StepFailed as exc:
                figures, problem = [], str(exc)
            except (httpx.HTTPError, LookupError, ValueError) as exc:
                figures, problem = [], f"{type(exc).__name__}: {exc}"
            step = StepResult(
                number, title, problem is None, time.monotonic() - started, figures, problem
            )
            steps.append(step)
            _print_step(console, step)
            if not step.ok:
                break
        result = StoryResult(steps, story.installation_id, mailchimp.list_id)
    total = sum(step.seconds for step in steps)
    if result.ok:
        console.print(f"[green]All {len(steps)} steps passed[/green] in {total:.1f} s.")
    else:
        failed = result.failed
        assert failed is not None
        console.print(f"[red]The demo failed at step {failed.number} ({failed.title}).[/red]")
    return result
