"""The File Manager: files, folders, limits and the served file URLs (REFERENCE.md §9)."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from chimplink.emulator import create_app
from tests.conformance import assert_conforms
from tests.conftest import Account, Emulator


def image_bytes(fmt: str, size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 90)).save(out, format=fmt)
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def upload(account: Account, name: str, data: bytes, **extra: Any) -> dict[str, Any]:
    response = await account.post(
        "/file-manager/files", json={"name": name, "file_data": b64(data), **extra}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def make_folder(account: Account, name: str) -> dict[str, Any]:
    response = await account.post("/file-manager/folders", json={"name": name})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- upload and download ---------------------------------------------------------------


async def test_images_round_trip_with_their_dimensions(
    emulator: Emulator, account: Account
) -> None:
    for fmt, name, size, content_type in (
        ("PNG", "logo.png", (37, 21), "image/png"),
        ("JPEG", "photo.jpeg", (64, 48), "image/jpeg"),
        ("GIF", "anim.gif", (5, 9), "image/gif"),
    ):
        data = image_bytes(fmt, size)
        response = await account.post(
            "/file-manager/files", json={"name": name, "file_data": b64(data)}
        )
        body = assert_conforms(response, "POST", "/file-manager/files")
        assert body["type"] == "image"
        assert body["name"] == name
        assert (body["width"], body["height"]) == size
        assert body["size"] == len(data)
        assert body["folder_id"] == 0
        assert isinstance(body["id"], int)
        assert body["full_size_url"].startswith(f"{emulator.base_url}/files/")
        assert body["thumbnail_url"]

        served = await emulator.client.get(body["full_size_url"])  # no credentials
        assert served.status_code == 200
        assert served.content == data
        assert served.headers["content-type"] == content_type

        got = await account.get(f"/file-manager/files/{body['id']}")
        assert assert_conforms(got, "GET", "/file-manager/files/{file_id}") == body


async def test_other_files_are_type_file(emulator: Emulator, account: Account) -> None:
    data = b"name,email\nAnn,ann@example.org\n"
    body = await upload(account, "contacts.csv", data)
    assert body["type"] == "file"
    assert (body["width"], body["height"]) == (0, 0)
    assert body["thumbnail_url"] == ""
    served = await emulator.client.get(body["full_size_url"])
    assert served.content == data
    assert served.headers["content-type"].startswith("text/csv")


async def test_extension_follows_the_real_format(account: Account) -> None:
    # "Mailchimp will inspect each file and change extensions to reflect the
    # original format" (REFERENCE.md §9).
    body = await upload(account, "holiday.jpg", image_bytes("PNG", (3, 4)))
    assert body["name"] == "holiday.png"
    assert body["type"] == "image"


async def test_file_over_10mb_is_refused(account: Account) -> None:
    response = await account.post(
        "/file-manager/files",
        json={"name": "big.pdf", "file_data": b64(b"\0" * (10 * 1024 * 1024 + 1))},
    )
    assert response.status_code == 400
    body = assert_conforms(response, "POST", "/file-manager/files")
    assert body["title"] == "Invalid Resource"
    assert body["errors"][0]["field"] == "file_data"
    assert "10MB" in body["errors"][0]["message"]
    # Exactly 10MB is allowed.
    ok = await upload(account, "edge.pdf", b"\0" * (10 * 1024 * 1024))
    assert ok["size"] == 10 * 1024 * 1024


async def test_unsupported_extensions_are_refused(account: Account) -> None:
    exe = await account.post(
        "/file-manager/files", json={"name": "setup.exe", "file_data": b64(b"MZ\x90\x00")}
    )
    assert exe.status_code == 400
    body = assert_conforms(exe, "POST", "/file-manager/files")
    assert body["errors"][0]["field"] == "name"
    assert ".exe" in body["errors"][0]["message"]
    no_extension = await account.post(
        "/file-manager/files", json={"name": "README", "file_data": b64(b"hi")}
    )
    assert no_extension.status_code == 400
    assert no_extension.json()["errors"][0]["field"] == "name"
    assert (await account.get("/file-manager/files")).json()["total_items"] == 0


async def test_bad_upload_bodies(account: Account) -> None:
    not_base64 = await account.post(
        "/file-manager/files", json={"name": "a.txt", "file_data": "%%% not base64 %%%"}
    )
    assert not_base64.status_code == 400
    assert not_base64.json()["errors"][0]["field"] == "file_data"
    empty = await account.post("/file-manager/files", json={"name": "a.txt", "file_data": ""})
    assert empty.status_code == 400
    missing = await account.post("/file-manager/files", json={"file_data": b64(b"x")})
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["message"] == "Required fields were not provided: name"
    wrong_type = await account.post(
        "/file-manager/files", json={"name": "a.txt", "file_data": b64(b"x"), "folder_id": "1"}
    )
    assert wrong_type.status_code == 400
    assert wrong_type.json()["errors"][0]["field"] == "folder_id"
    unknown_folder = await account.post(
        "/file-manager/files", json={"name": "a.txt", "file_data": b64(b"x"), "folder_id": 42}
    )
    assert unknown_folder.status_code == 400
    assert unknown_folder.json()["errors"][0]["field"] == "folder_id"
    not_json = await account.post("/file-manager/files", content=b"{")
    assert not_json.json()["title"] == "JSON Parse Exception"


# -- get, update, delete -------------------------------------------------------------------


async def test_get_patch_delete_file(emulator: Emulator, account: Account) -> None:
    folder = await make_folder(account, "Logos")
    item = await upload(account, "logo.png", image_bytes("PNG", (2, 2)))

    patched = await account.patch(
        f"/file-manager/files/{item['id']}", json={"name": "brand.png", "folder_id": folder["id"]}
    )
    body = assert_conforms(patched, "PATCH", "/file-manager/files/{file_id}")
    assert (body["name"], body["folder_id"]) == ("brand.png", folder["id"])
    # The file URL keeps working across a rename.
    assert (await emulator.client.get(item["full_size_url"])).status_code == 200
    unfiled = await account.patch(f"/file-manager/files/{item['id']}", json={"folder_id": 0})
    assert unfiled.json()["folder_id"] == 0

    bad_name = await account.patch(f"/file-manager/files/{item['id']}", json={"name": "x.exe"})
    assert bad_name.status_code == 400
    assert_conforms(bad_name, "PATCH", "/file-manager/files/{file_id}")
    bad_folder = await account.patch(f"/file-manager/files/{item['id']}", json={"folder_id": 7})
    assert bad_folder.status_code == 400

    deleted = await account.delete(f"/file-manager/files/{item['id']}")
    assert deleted.status_code == 204
    assert_conforms(deleted, "DELETE", "/file-manager/files/{file_id}")
    assert (await emulator.client.get(item["full_size_url"])).status_code == 404
    for method, kwargs in (("GET", {}), ("PATCH", {"json": {"name": "a.png"}}), ("DELETE", {})):
        response = await account.request(method, f"/file-manager/files/{item['id']}", **kwargs)
        assert response.status_code == 404
        body = assert_conforms(response, method, "/file-manager/files/{file_id}")
        assert body["title"] == "Resource Not Found"
    assert (await account.get("/file-manager/files/not-a-number")).status_code == 404


async def test_files_belong_to_their_account(emulator: Emulator, account: Account) -> None:
    item = await upload(account, "a.txt", b"hello")
    other = await emulator.account("Other Co")
    assert (await other.get(f"/file-manager/files/{item['id']}")).status_code == 404
    assert (await other.get("/file-manager/files")).json()["total_items"] == 0


# -- listing -------------------------------------------------------------------------------


async def test_list_files_filters_sorts_and_pages(account: Account) -> None:
    small = await upload(account, "b-small.png", image_bytes("PNG", (1, 1)))
    large = await upload(account, "a-large.jpg", image_bytes("JPEG", (300, 200)))
    text = await upload(account, "c-notes.txt", b"x" * 5000)
    sizes = {f["id"]: f["size"] for f in (small, large, text)}

    everything = assert_conforms(
        await account.get("/file-manager/files"), "GET", "/file-manager/files"
    )
    assert [f["id"] for f in everything["files"]] == [small["id"], large["id"], text["id"]]
    assert everything["total_items"] == 3
    assert everything["total_file_size"] == sum(sizes.values())

    images = (await account.get("/file-manager/files", params={"type": "image"})).json()
    assert {f["id"] for f in images["files"]} == {small["id"], large["id"]}
    assert images["total_file_size"] == sizes[small["id"]] + sizes[large["id"]]
    files = (await account.get("/file-manager/files", params={"type": "file"})).json()
    assert [f["id"] for f in files["files"]] == [text["id"]]

    by_name = (await account.get("/file-manager/files", params={"sort_field": "name"})).json()
    assert [f["name"] for f in by_name["files"]] == ["a-large.jpg", "b-small.png", "c-notes.txt"]
    by_size = (
        await account.get("/file-manager/files", params={"sort_field": "size", "sort_dir": "DESC"})
    ).json()
    assert [f["id"] for f in by_size["files"]] == sorted(sizes, key=lambda i: -sizes[i])
    newest = (
        await account.get(
            "/file-manager/files", params={"sort_field": "added_date", "sort_dir": "DESC"}
        )
    ).json()
    assert [f["id"] for f in newest["files"]] == [text["id"], large["id"], small["id"]]

    first = (await account.get("/file-manager/files", params={"count": 2})).json()
    second = (await account.get("/file-manager/files", params={"count": 2, "offset": 2})).json()
    assert [f["id"] for f in first["files"] + second["files"]] == [
        small["id"],
        large["id"],
        text["id"],
    ]
    assert first["total_items"] == second["total_items"] == 3

    mine = (
        await account.get("/file-manager/files", params={"created_by": small["created_by"]})
    ).json()
    assert mine["total_items"] == 3
    nobody = (await account.get("/file-manager/files", params={"created_by": "nobody"})).json()
    assert nobody["total_items"] == 0
    since = (
        await account.get("/file-manager/files", params={"since_created_at": small["created_at"]})
    ).json()
    assert since["total_items"] == 3
    future = (
        await account.get(
            "/file-manager/files", params={"since_created_at": "2999-01-01T00:00:00+00:00"}
        )
    ).json()
    assert future["total_items"] == 0
    before = (
        await account.get(
            "/file-manager/files", params={"before_created_at": "2000-01-01T00:00:00Z"}
        )
    ).json()
    assert before["total_items"] == 0


async def test_list_files_rejects_bad_parameters(account: Account) -> None:
    for params in (
        {"sort_field": "color"},
        {"sort_dir": "SIDEWAYS"},
        {"type": "video"},
        {"since_created_at": "yesterday"},
        {"count": "many"},
    ):
        response = await account.get("/file-manager/files", params=params)
        assert response.status_code == 400, params
        body = assert_conforms(response, "GET", "/file-manager/files")
        assert body["errors"][0]["field"] == next(iter(params))


# -- folders -------------------------------------------------------------------------------


async def test_folder_crud_and_its_files(account: Account) -> None:
    created = await account.post("/file-manager/folders", json={"name": "Campaign art"})
    folder = assert_conforms(created, "POST", "/file-manager/folders")
    assert folder["name"] == "Campaign art"
    assert folder["file_count"] == 0
    assert isinstance(folder["id"], int)

    inside = await upload(account, "in.png", image_bytes("PNG", (4, 4)), folder_id=folder["id"])
    assert inside["folder_id"] == folder["id"]
    outside = await upload(account, "out.txt", b"outside")

    got = assert_conforms(
        await account.get(f"/file-manager/folders/{folder['id']}"),
        "GET",
        "/file-manager/folders/{folder_id}",
    )
    assert got["file_count"] == 1
    listed = assert_conforms(
        await account.get("/file-manager/folders"), "GET", "/file-manager/folders"
    )
    assert [f["id"] for f in listed["folders"]] == [folder["id"]]
    assert listed["total_items"] == 1
    in_folder = assert_conforms(
        await account.get(f"/file-manager/folders/{folder['id']}/files"),
        "GET",
        "/file-manager/folders/{folder_id}/files",
    )
    assert [f["id"] for f in in_folder["files"]] == [inside["id"]]
    assert in_folder["total_file_size"] == inside["size"]
    images = (
        await account.get(f"/file-manager/folders/{folder['id']}/files", params={"type": "file"})
    ).json()
    assert images["total_items"] == 0

    renamed = await account.patch(
        f"/file-manager/folders/{folder['id']}", json={"name": "Art 2026"}
    )
    assert assert_conforms(renamed, "PATCH", "/file-manager/folders/{folder_id}")["name"] == (
        "Art 2026"
    )

    deleted = await account.delete(f"/file-manager/folders/{folder['id']}")
    assert deleted.status_code == 204
    assert_conforms(deleted, "DELETE", "/file-manager/folders/{folder_id}")
    # Its files stay, unfiled.
    kept = (await account.get(f"/file-manager/files/{inside['id']}")).json()
    assert kept["folder_id"] == 0
    assert (await account.get("/file-manager/files")).json()["total_items"] == 2
    assert outside["folder_id"] == 0

    for method, path, kwargs in (
        ("GET", "/file-manager/folders/{folder_id}", {}),
        ("PATCH", "/file-manager/folders/{folder_id}", {"json": {"name": "x"}}),
        ("DELETE", "/file-manager/folders/{folder_id}", {}),
        ("GET", "/file-manager/folders/{folder_id}/files", {}),
    ):
        concrete = path.replace("{folder_id}", str(folder["id"]))
        response = await account.request(method, concrete, **kwargs)
        assert response.status_code == 404
        assert assert_conforms(response, method, path)["title"] == "Resource Not Found"


async def test_folder_bodies_are_validated(account: Account) -> None:
    missing = await account.post("/file-manager/folders", json={})
    assert missing.status_code == 400
    body = assert_conforms(missing, "POST", "/file-manager/folders")
    assert body["errors"][0]["message"] == "Required fields were not provided: name"
    blank = await account.post("/file-manager/folders", json={"name": "  "})
    assert blank.status_code == 400
    folder = await make_folder(account, "Keep")
    bad_patch = await account.patch(f"/file-manager/folders/{folder['id']}", json={"name": 5})
    assert bad_patch.status_code == 400
    assert bad_patch.json()["errors"][0]["field"] == "name"
    bad_list = await account.get("/file-manager/folders", params={"before_created_at": "soon"})
    assert bad_list.status_code == 400
    assert_conforms(bad_list, "GET", "/file-manager/folders")


async def test_list_folders_filters_and_pages(account: Account) -> None:
    first = await make_folder(account, "One")
    second = await make_folder(account, "Two")
    page = (await account.get("/file-manager/folders", params={"count": 1, "offset": 1})).json()
    assert [f["id"] for f in page["folders"]] == [second["id"]]
    assert page["total_items"] == 2
    mine = (
        await account.get("/file-manager/folders", params={"created_by": first["created_by"]})
    ).json()
    assert mine["total_items"] == 2
    none = (
        await account.get(
            "/file-manager/folders", params={"since_created_at": "2999-01-01T00:00:00+00:00"}
        )
    ).json()
    assert none["total_items"] == 0


async def test_unknown_file_url_is_404(emulator: Emulator, account: Account) -> None:
    response = await emulator.client.get(f"/files/{account.info['account_id']}/123/x.png")
    assert response.status_code == 404
    assert response.json()["title"] == "Resource Not Found"


async def test_files_and_folders_survive_a_state_file(
    emulator: Emulator, account: Account, tmp_path: Path
) -> None:
    folder = await make_folder(account, "Kept")
    data = image_bytes("PNG", (6, 7))
    item = await upload(account, "kept.png", data, folder_id=folder["id"])
    state = tmp_path / "state.json"
    state.write_text((await emulator.client.get("/_emulator/state")).text, "utf-8")

    reloaded = create_app(state_file=state)
    transport = httpx.ASGITransport(app=reloaded)
    async with httpx.AsyncClient(transport=transport, base_url="http://reloaded.test") as client:
        again = Account(
            Emulator(reloaded, client, "http://reloaded.test", "inprocess"), account.info
        )
        got = (await again.get(f"/file-manager/files/{item['id']}")).json()
        assert (got["name"], got["folder_id"], got["width"]) == ("kept.png", folder["id"], 6)
        served = await client.get(got["full_size_url"])
        assert served.content == data
        kept_folder = (await again.get(f"/file-manager/folders/{folder['id']}")).json()
        assert kept_folder["file_count"] == 1
    await reloaded.aclose()
