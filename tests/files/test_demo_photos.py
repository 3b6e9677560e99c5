"""The demo platform's photo library: generated images, albums, edits, the `PhotoLibrary`."""

from __future__ import annotations

import hashlib
import io
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from chimplink.platforms import ConnectorError, PhotoLibrary
from chimplink.platforms.demo import DemoPlatform
from chimplink.platforms.demo.photos import generate_photos


def _image(data: bytes) -> tuple[str, int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return str(image.format), image.width, image.height


def test_generated_photos_are_real_images_in_several_formats_and_sizes() -> None:
    photos = list(generate_photos(count=12, seed=3))
    assert [p.name for p in photos] == [p.name for p in generate_photos(count=12, seed=3)]
    assert {p.content_type for p in photos} == {"image/png", "image/jpeg", "image/gif"}
    assert len({(p.width, p.height) for p in photos}) >= 3
    assert {p.album for p in photos} == {"Summer", "Products", "Team"}
    for photo in photos:
        fmt, width, height = _image(photo.data)
        assert (width, height) == (photo.width, photo.height)
        assert photo.content_type == f"image/{fmt.lower()}"
        assert photo.name.endswith({"PNG": ".png", "JPEG": ".jpg", "GIF": ".gif"}[fmt])


def test_photos_of_a_chosen_size_for_benchmarks() -> None:
    for photo in generate_photos(count=3, target_bytes=50_000):
        assert 45_000 <= len(photo.data) <= 55_000
    with pytest.raises(ValueError, match="target_bytes"):
        list(generate_photos(count=1, target_bytes=10))
    with pytest.raises(ValueError, match="count"):
        list(generate_photos(count=-1))


async def test_the_library_pages_edits_and_writes(tmp_path: Path) -> None:
    async with await DemoPlatform.create(tmp_path / "demo.db", contacts=3, photos=7) as platform:
        library = platform.connector()
        assert isinstance(library, PhotoLibrary)
        pages = [p async for p in library.photos(after=None, page_size=3)]
        assert [len(p) for p in pages] == [3, 3, 1]
        listed = [photo for page in pages for photo in page]
        assert [p.key for p in listed] == [str(n) for n in range(1, 8)]
        cursors = [p.cursor for p in listed]
        assert cursors == sorted(cursors)
        assert [
            p.key async for page in library.photos(after=cursors[4], page_size=10) for p in page
        ] == ["6", "7"]
        team = [
            p async for page in library.photos(after=None, page_size=10, album="Team") for p in page
        ]
        assert {p.album for p in team} == {"Team"} and len(team) == 1
        assert await library.count_photos() == 7 and await library.count_photos(album="Summer") == 3

        before = await library.get_photo("2")
        assert before is not None
        data = await library.read_photo("2")
        assert hashlib.sha256(data).hexdigest() == before.content_hash
        edited = await platform.photos.edit("2")
        assert edited.content_hash != before.content_hash and edited.cursor > cursors[-1]
        assert (edited.name, edited.width, edited.height) == (
            before.name,
            before.width,
            before.height,
        )
        assert _image(await library.read_photo("2"))[1:] == (before.width, before.height)

        png = io.BytesIO()
        Image.new("RGB", (9, 5), "red").save(png, "PNG")
        written = await library.write_photo(name="red.png", data=png.getvalue(), album="New")
        assert (written.key, written.width, written.height, written.album) == ("8", 9, 5, "New")
        again = await library.write_photo(name="red.png", data=png.getvalue(), key=written.key)
        assert again == written  # the same bytes and name: nothing changes
        renamed = await library.write_photo(name="crimson.png", data=png.getvalue(), key="8")
        assert renamed.name == "crimson.png" and renamed.cursor > written.cursor
        text = await platform.photos.add("notes.txt", b"hello")
        assert (text.content_type, text.width, text.height) == ("text/plain", 0, 0)

        assert await library.get_photo("99") is None and await library.get_photo("x") is None
        with pytest.raises(ConnectorError, match="no photo 99"):
            await library.read_photo("99")
        with pytest.raises(ConnectorError, match="empty"):
            await platform.photos.add("empty.png", b"")
        with pytest.raises(ConnectorError, match="not an image"):
            await platform.photos.edit(text.key)
        with pytest.raises(ConnectorError, match="cursor"):
            [p async for p in library.photos(after="nope", page_size=1)]
        await platform.photos.delete("8")
        assert await library.get_photo("8") is None
        with pytest.raises(KeyError):
            await platform.photos.delete("8")
        assert await platform.photos.albums() == ["Products", "Summer", "Team"]  # "New" went


async def test_a_demo_database_from_before_photos_gets_an_empty_library(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    platform = await DemoPlatform.create(path, contacts=2)
    await platform.aclose()
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE photos")
        connection.execute("DELETE FROM counters WHERE name = 'photo_change'")
    async with await DemoPlatform.open(path) as reopened:
        assert await reopened.count() == 2
        assert await reopened.photos.count() == 0
        added = await reopened.photos.add("a.gif", b"GIF89a" + b"\0" * 20)
        assert added.cursor == "000000000001"
