"""The read-only HTML view of the emulator, /_emulator/ui."""

from __future__ import annotations

import asyncio
import base64
import html
import time

import httpx

from tests.conftest import Emulator
from tests.emulator.test_segments import md5, new_list, put_member
from tests.emulator.test_webhooks import make_hook, running_receiver

HOSTILE = "<script>x</script>"


def assert_html(response: httpx.Response, status: int = 200) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    text = response.text
    assert text.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in text
    assert "<script" not in text.lower()  # no JS, and nothing injected
    return text


async def test_accounts_page_lists_every_account(emulator: Emulator) -> None:
    empty = assert_html(await emulator.client.get("/_emulator/ui"))
    assert "No accounts yet" in empty
    bakery = await emulator.account("Harbour Bakery")
    await emulator.account("Corner Shop")
    text = assert_html(await emulator.client.get("/_emulator/ui"))
    assert "Harbour Bakery" in text
    assert "Corner Shop" in text
    assert f"/_emulator/ui/accounts/{bakery.info['account_id']}" in text


async def test_account_page_shows_audiences_files_and_deliveries(emulator: Emulator) -> None:
    account = await emulator.account("Harbour Bakery")
    list_id = await new_list(account, "Bread lovers")
    await put_member(account, list_id, "ann.lee@bakery.example")
    await put_member(account, list_id, "bob.ray@bakery.example", status="unsubscribed")
    page = f"/_emulator/ui/accounts/{account.info['account_id']}"
    text = assert_html(await emulator.client.get(page))
    assert "<h1>Harbour Bakery</h1>" in text
    assert "Bread lovers" in text
    assert f"{page}/lists/{list_id}" in text
    assert "<td>2</td>" in text  # contacts
    assert "<td>1</td>" in text  # subscribed
    assert '<h2 id="files">Files</h2>' in text
    assert '<h2 id="deliveries">Webhook deliveries</h2>' in text


async def test_account_page_shows_file_manager_files_and_webhook_deliveries(
    emulator: Emulator,
) -> None:
    account = await emulator.account("Harbour Bakery")
    uploaded = await account.post(
        "/file-manager/files",
        json={"name": "menu.txt", "file_data": base64.b64encode(b"Rye, spelt").decode()},
    )
    assert uploaded.status_code == 200, uploaded.text
    list_id = await new_list(account, "Bread lovers")
    page = f"/_emulator/ui/accounts/{account.info['account_id']}"
    with running_receiver() as receiver:
        await make_hook(account, list_id, receiver.url("/hook"))
        await put_member(account, list_id, "ann.lee@bakery.example")
        deadline = time.monotonic() + 5
        while True:  # deliveries run in the background
            text = assert_html(await emulator.client.get(page))
            if "<td>delivered</td>" in text:
                break
            assert time.monotonic() < deadline, text
            await asyncio.sleep(0.02)
    assert "menu.txt" in text
    assert f"<td>{uploaded.json()['id']}</td>" in text
    # File contents stay out of the page.
    assert base64.b64encode(b"Rye, spelt").decode() not in text
    assert "<td>subscribe</td>" in text
    assert receiver.url("/hook") in text


async def test_audience_page_shows_members_with_status_and_tags(emulator: Emulator) -> None:
    account = await emulator.account("Harbour Bakery")
    list_id = await new_list(account, "Bread lovers")
    await put_member(account, list_id, "ann.lee@bakery.example", merge_fields={"FNAME": "Ann"})
    await put_member(account, list_id, "bob.ray@bakery.example", status="unsubscribed")
    await account.post(
        f"/lists/{list_id}/members/{md5('ann.lee@bakery.example')}/tags",
        json={"tags": [{"name": "Sourdough", "status": "active"}]},
    )
    page = f"/_emulator/ui/accounts/{account.info['account_id']}/lists/{list_id}"
    text = assert_html(await emulator.client.get(page))
    assert "<h1>Bread lovers</h1>" in text
    assert "ann.lee@bakery.example" in text
    assert "bob.ray@bakery.example" in text
    assert "<td>subscribed</td>" in text
    assert "<td>unsubscribed</td>" in text
    assert "Sourdough" in text
    assert "The first 2 of 2 contacts" in text


async def test_unknown_account_or_audience_is_404(emulator: Emulator) -> None:
    account = await emulator.account("Harbour Bakery")
    missing = await emulator.client.get("/_emulator/ui/accounts/nope")
    assert "No emulator account has this id." in assert_html(missing, 404)
    no_list = await emulator.client.get(
        f"/_emulator/ui/accounts/{account.info['account_id']}/lists/nope"
    )
    assert "no audience with this id" in assert_html(no_list, 404)
    wrong_method = await emulator.client.post("/_emulator/ui")
    assert wrong_method.status_code == 405


async def test_names_from_callers_are_escaped(emulator: Emulator) -> None:
    account = await emulator.account(HOSTILE)
    list_id = await new_list(account, f"<b>{HOSTILE}</b>")
    await put_member(
        account, list_id, "ann.lee@bakery.example", merge_fields={"FNAME": '"><img src=x>'}
    )
    escaped = html.escape(HOSTILE, quote=False)
    accounts = assert_html(await emulator.client.get("/_emulator/ui"))
    assert escaped in accounts
    account_page = f"/_emulator/ui/accounts/{account.info['account_id']}"
    text = assert_html(await emulator.client.get(account_page))
    assert escaped in text
    assert "&lt;b&gt;" in text and "<b>" not in text
    list_page = assert_html(await emulator.client.get(f"{account_page}/lists/{list_id}"))
    assert "<img" not in list_page
    assert "&lt;img src=x&gt;" in list_page
