"""File Manager transfers: uploads stream their base64 body (the file is held once), and
downloads go only to the API's own host or Mailchimp's file hosts, without credentials."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from chimplink.mailchimp import File, NotFoundError
from chimplink.mailchimp.services.file_manager import (
    FILE_DOWNLOAD_OPERATION,
    check_download_url,
)
from tests.mailchimp.conftest import TOKEN, Harness, json_response

_FILE = {"id": 9, "name": "a.png", "size": 3}


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 65_537, 200_000])
async def test_upload_streams_exact_json_with_a_content_length(harness: Harness, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    seen: dict[str, object] = {}

    async def handler(request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        seen["length"] = request.headers.get("Content-Length")
        seen["chunked"] = request.headers.get("Transfer-Encoding")
        seen["body"] = json.loads(body)
        seen["size"] = len(body)
        return json_response(_FILE)

    client = harness.client(handler)
    uploaded = await client.file_manager.files.upload('say "hi".png', data, folder_id=12)
    assert uploaded.id == 9
    assert seen["body"] == {
        "name": 'say "hi".png',
        "folder_id": 12,
        "file_data": base64.b64encode(data).decode(),
    }
    assert seen["length"] == str(seen["size"]) and seen["chunked"] is None


async def test_the_upload_body_is_made_again_for_a_retry(harness: Harness) -> None:
    bodies: list[bytes] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(await request.aread())
        if len(bodies) == 1:
            return httpx.Response(429)  # turned away: safe to send again
        return json_response(_FILE)

    client = harness.client(handler)
    await client.file_manager.files.upload("a.png", b"\x89PNG" * 1000)
    assert len(bodies) == 2 and bodies[0] == bodies[1]


async def test_the_upload_is_sent_in_pieces_not_one_copy(harness: Harness) -> None:
    pieces: list[int] = []

    class Spy(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            async for piece in request.stream:  # type: ignore[union-attr]
                pieces.append(len(piece))
            return json_response(_FILE)

    client = harness.client(lambda r: json_response(_FILE), transport=Spy())
    data = b"x" * 1_000_000
    await client.file_manager.files.upload("big.png", data)
    assert sum(pieces) > len(data) * 4 // 3
    assert max(pieces) <= 90_000  # never the whole 1.3 MB body at once


def test_downloads_go_only_to_the_api_host_or_mailchimps_file_hosts() -> None:
    api = "https://us6.api.mailchimp.com/3.0"
    assert check_download_url("https://us6.api.mailchimp.com/files/a.png", api_base=api)
    assert check_download_url("https://mcusercontent.com/1/images/a.png", api_base=api)
    assert check_download_url("https://gallery.mailchimp.com/1/images/a.png", api_base=api)
    emulator = "http://127.0.0.1:8900/us6/3.0"
    assert check_download_url("http://127.0.0.1:8900/files/a/1/a.png", api_base=emulator)
    for url, base in [
        ("https://evil.example/a.png", api),
        ("http://mcusercontent.com/1/a.png", api),  # plain http
        ("https://mcusercontent.com.evil.example/a.png", api),
        ("https://us6.api.mailchimp.com:8443/a.png", api),  # another port
        ("http://127.0.0.1:8901/files/a.png", emulator),
        ("/files/a.png", api),
    ]:
        with pytest.raises(ValueError, match="refusing to download"):
            check_download_url(url, api_base=base)


async def test_download_fetches_without_credentials(harness: Harness) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert "Authorization" not in request.headers
        assert TOKEN not in str(request.url)
        return httpx.Response(200, content=b"PNG!")

    client = harness.client(handler)
    found = File(id=1, full_size_url="https://mcusercontent.com/u/images/a.png")
    assert await client.file_manager.files.download(found) == b"PNG!"
    assert harness.recorder.calls[-1].operation == FILE_DOWNLOAD_OPERATION


async def test_download_of_a_gone_file_is_not_found(harness: Harness) -> None:
    client = harness.client(lambda request: httpx.Response(403))
    found = File(id=1, full_size_url="https://mcusercontent.com/u/images/a.png")
    with pytest.raises(NotFoundError) as caught:
        await client.file_manager.files.download(found)
    assert caught.value.status == 403 and caught.value.title == "File Unavailable"
    with pytest.raises(ValueError, match="no full_size_url"):
        await client.file_manager.files.download(File(id=2))
    with pytest.raises(ValueError, match="refusing"):
        await client.file_manager.files.download(File(id=3, full_size_url="https://x.example/a"))
    assert len(harness.requests) == 1  # the refused URLs were never requested


async def test_one_page_of_files_with_the_total(harness: Harness) -> None:
    client = harness.client(
        lambda request: json_response({"files": [_FILE, {**_FILE, "id": 10}], "total_items": 7})
    )
    files, total = await client.file_manager.files.page(
        type="image", count=2, offset=4, sort_field="added_date", sort_dir="DESC"
    )
    assert [f.id for f in files] == [9, 10] and total == 7
    params = harness.requests[0].url.params
    assert dict(params) == {
        "type": "image",
        "count": "2",
        "offset": "4",
        "sort_field": "added_date",
        "sort_dir": "DESC",
    }
    empty = harness.client(lambda request: httpx.Response(204))
    assert await empty.file_manager.files.page() == ([], 0)
    for bad in ({"count": 0}, {"count": 1001}, {"offset": -1}):
        with pytest.raises(ValueError, match="count must be"):
            await client.file_manager.files.page(**bad)  # type: ignore[arg-type]
