"""`chimplink demo` (what `make demo` runs) and `chimplink demo --headless` (its story, checked).

The headless story is checked twice over: by its own steps, and here, afterwards,
against the emulator's and the platform's state read independently of it.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from io import StringIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from chimplink.cli.demo import DemoStack, open_stack
from chimplink.cli.demo_story import Page, StoryResult, member_hash, run_story
from chimplink.emulator.testing import free_port
from chimplink.platforms import Consent
from chimplink.platforms.demo import DemoConnector
from chimplink.store import list_all_installations

CHIMPLINK = str(Path(sys.executable).with_name("chimplink"))
CONTACTS = 200


def _environment() -> dict[str, str]:
    """This process's environment without any CHIMPLINK_* variable: the demo needs none."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CHIMPLINK_")}


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[DemoStack]:
    async with open_stack(contacts=CONTACTS, data=tmp_path) as opened:
        yield opened


async def _play(stack: DemoStack) -> tuple[StoryResult, str]:
    out = StringIO()
    console = Console(file=out, width=200, color_system=None, soft_wrap=True)
    result = await run_story(stack, console=console)
    return result, out.getvalue()


async def _members(stack: DemoStack, list_id: str) -> list[dict[str, Any]]:
    """Every member of the audience, read with the account's own API key (not chimplink's)."""
    async with httpx.AsyncClient(base_url=stack.emulator_url) as client:
        state = (await client.get("/_emulator/state")).json()
        key = next(k for k, record in state["tokens"].items() if record["kind"] == "api_key")
        found = await client.get(
            f"/3.0/lists/{list_id}/members",
            params={
                "count": 1000,
                "fields": "members.email_address,members.status,members.merge_fields,total_items",
            },
            auth=("test", key),
        )
        webhooks = await client.get(f"/3.0/lists/{list_id}/webhooks", auth=("test", key))
    assert webhooks.json()["webhooks"] == []  # disconnect left nothing behind
    members: list[dict[str, Any]] = found.json()["members"]
    assert len(members) == found.json()["total_items"]
    return members


@pytest.mark.served
async def test_the_headless_story_passes_and_both_sides_agree_with_it(stack: DemoStack) -> None:
    result, printed = await _play(stack)

    assert result.ok, printed
    assert [step.number for step in result.steps] == [1, 2, 3, 4, 5, 6, 7]
    assert printed.count("✓") == 7 and "✗" not in printed
    assert "All 7 steps passed" in printed
    created = re.search(rf"{CONTACTS} contacts read: (\d+) created", printed)
    assert created, printed
    assert re.search(r"[\d,]+ contacts/s", printed)
    assert re.search(r"API calls: \d+ answered by Mailchimp", printed)

    # Mailchimp's side: as many members as the story said were created, all of them
    # platform contacts, a few invalid emails refused; each member's status follows the
    # platform's consent, and the one who unsubscribed is the one whose consent is withdrawn.
    members = await _members(stack, result.list_id)
    assert len(members) == int(created.group(1))
    assert CONTACTS - 5 <= len(members) < CONTACTS
    platform = {
        contact.email: contact
        for contact in [await stack.platform.get(str(key)) for key in range(1, CONTACTS + 1)]
        if contact is not None
    }
    statuses = {m["status"] for m in members}
    assert statuses == {"subscribed", "transactional", "unsubscribed"}
    for member in members:
        consent = platform[member["email_address"]].consent
        if member["status"] == "subscribed":
            assert consent is Consent.GRANTED
        elif member["status"] == "unsubscribed":
            assert consent is Consent.WITHDRAWN
        else:
            assert consent is not Consent.GRANTED
    assert [m["status"] for m in members].count("unsubscribed") == 1
    # The platform's edit reached the member.
    edited = [c for c in platform.values() if c.fields["last_name"] == "Okafor"]
    assert len(edited) == 1, "the story's edit is not on the platform"
    member = next(m for m in members if m["email_address"] == edited[0].email)
    assert "Okafor" in member["merge_fields"].values()

    # chimplink's side: the installation is gone with its token and settings.
    async with stack.services().sessions() as session:
        assert await list_all_installations(session=session) == []


@pytest.mark.served
async def test_a_platform_that_ignores_mailchimps_changes_fails_the_story(
    stack: DemoStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def drop(self: DemoConnector, change: object) -> None:
        return None  # a platform bug: accepts the change and stores nothing

    monkeypatch.setattr(DemoConnector, "apply", drop)
    result, printed = await _play(stack)

    assert result.exit_code == 1
    assert [step.ok for step in result.steps] == [True, True, True, True, False]
    failed = result.failed
    assert failed is not None and failed.number == 5
    assert failed.problem is not None and "still shows consent granted" in failed.problem
    assert "✗ 5." in printed and "The demo failed at step 5" in printed
    assert printed.count("✓") == 4
    assert not re.search(r"^[✓✗] [67]\.", printed, re.M)  # later steps build on it: not played


@pytest.mark.served
def test_the_headless_command_exits_zero_and_prints_every_step() -> None:
    finished = subprocess.run(
        [CHIMPLINK, "demo", "--headless", "--contacts", "100"],
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    for number in range(1, 8):
        assert f"✓ {number}." in finished.stdout
    assert "All 7 steps passed" in finished.stdout
    assert "Traceback" not in finished.stderr
    data = re.search(r"data in (\S+)", finished.stdout)
    assert data and not Path(data.group(1)).exists()  # a passing run leaves nothing behind


def test_the_demo_refuses_a_port_in_use_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        finished = subprocess.run(
            [CHIMPLINK, "demo", "--port", str(port), "--emulator-port", str(free_port())],
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert finished.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_the_demo_refuses_too_few_contacts() -> None:
    finished = subprocess.run(
        [CHIMPLINK, "demo", "--headless", "--contacts", "3"],
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 2
    assert "--contacts" in finished.stderr and "Traceback" not in finished.stderr


@pytest.mark.served
def test_demo_serves_the_emulator_and_the_app_and_prints_what_to_click() -> None:
    port, emulator_port = free_port(), free_port()
    proc = subprocess.Popen(
        [
            CHIMPLINK,
            "demo",
            "--port",
            str(port),
            "--emulator-port",
            str(emulator_port),
            "--contacts",
            "300",
        ],
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        output = ""
        assert proc.stdout is not None
        while "Press Ctrl-C to stop." not in output:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, output
            output += proc.stdout.readline()
        link = re.search(r"(http://127\.0\.0\.1:\d+/platform/enter\S+)", output)
        assert link, output
        with httpx.Client(follow_redirects=True, timeout=5) as client:
            home = Page.of(client.get(link.group(1)))
        assert home.status == 200 and "connect-button" in home.links
        assert "300 contacts" in output
        assert f"http://127.0.0.1:{port}/installations/<id>/sync/settings" in output
        assert f"http://127.0.0.1:{emulator_port}/_emulator/ui" in output
        # The unsubscribe command names a real member-to-be of the seeded audience.
        action = re.search(r"_emulator/lists/(\w+)/members/([0-9a-f]{32})/actions", output)
        assert action, output
        ui = httpx.get(f"http://127.0.0.1:{emulator_port}/_emulator/ui", timeout=5)
        assert "Demo Bakery" in ui.text
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert "Traceback" not in err
    assert proc.returncode in (0, -15)


def test_page_reads_forms_as_a_browser_would_submit_them() -> None:
    html = """
    <a id="home" href="/">Home</a>
    <form method="POST" action="/save" id="f">
      <input type="hidden" name="csrf_token" value="t&amp;1">
      <input type="checkbox" name="sync.a" checked><input type="checkbox" name="sync.b">
      <input type="radio" name="choice" value="x">
      <input type="radio" name="choice" value="y" checked>
      <select name="s"><option value="1">one</option>
        <option value="2" selected>two</option></select>
      <textarea name="note">hello</textarea>
      <button type="submit" name="action" value="preview">Save and preview</button>
      <button type="submit" name="action" value="save">Save</button>
      <button type="button">Not a submit</button>
    </form>
    """
    page = Page.of(httpx.Response(200, text=html, request=httpx.Request("GET", "http://x.test/p")))
    form = page.form("f")
    assert form.method == "post" and form.action == "/save"
    assert form.defaults == {
        "csrf_token": "t&1",
        "sync.a": "on",
        "choice": "y",
        "s": "2",
        "note": "hello",
    }
    assert form.options == {"choice": ["x", "y"], "s": ["1", "2"]}
    assert form.button("Save") == ("action", "save", "Save")
    assert form.button("preview") == ("action", "preview", "Save and preview")
    assert len(form.buttons) == 2
    assert page.link("home") == "http://x.test/"
    assert member_hash("Ann@Example.org") == member_hash("ann@example.org")
