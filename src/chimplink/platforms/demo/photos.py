"""The demo platform's photo library: the photo editor of REFERENCE.md §1's worked example.

Photos are generated with Pillow (gradients and shapes, in several sizes, as
PNG, JPEG and GIF, in albums), kept with their bytes in the demo database,
and changed the way an editor changes them (`edit` draws on a photo and saves
it in its own format, so the bytes change and the dimensions do not).

`DemoPhotos` is the back office (`platform.photos.add/edit/delete/...`);
`PhotoLibraryMethods` gives `DemoConnector` the `PhotoLibrary` protocol on
top of it. Every change takes the next `photo_change` sequence, the photos'
change cursor.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import random
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from PIL import Image, ImageDraw, ImageOps
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chimplink.platforms.base import ConnectorError, Photo
from chimplink.platforms.demo.schema import PHOTO_COUNTER, counters, photos

if TYPE_CHECKING:
    from chimplink.platforms.demo.platform import DemoPlatform

__all__ = [
    "ALBUMS",
    "DemoPhotos",
    "GeneratedPhoto",
    "PhotoLibraryMethods",
    "generate_photos",
    "insert_generated_photos",
    "inspect_image",
]

ALBUMS = ("Summer", "Products", "Team")
# Width x height of the generated photos, small to large.
_SIZES = ((96, 96), (320, 240), (640, 480), (800, 1000), (1280, 853))
_FORMATS = ("PNG", "JPEG", "GIF")
_EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif"}
_CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "BMP": "image/bmp"}
_SUBJECTS = ("beach", "mug", "team", "sunset", "poster", "shoe", "garden", "desk")
_BATCH = 200  # generated photos per INSERT


@dataclass(frozen=True, slots=True)
class GeneratedPhoto:
    name: str
    album: str
    content_type: str
    data: bytes
    width: int
    height: int


def generate_photos(
    *, count: int, seed: int = 7, target_bytes: int | None = None
) -> Iterator[GeneratedPhoto]:
    """`count` photos, the same for the same seed, cycling through formats and albums.

    Without `target_bytes` the photos are drawings in several sizes (small
    files); with it they are noise of about that many bytes each (for
    benchmarks: noise does not compress, so the size is predictable).
    """
    if count < 0:
        raise ValueError(f"count must not be negative, not {count}")
    if target_bytes is not None and target_bytes < 1_000:
        raise ValueError(f"target_bytes must be at least 1000, not {target_bytes}")
    rng = random.Random(seed)
    for number in range(1, count + 1):
        fmt = _FORMATS[(number - 1) % len(_FORMATS)]
        album = ALBUMS[(number - 1) // len(_FORMATS) % len(ALBUMS)]
        subject = _SUBJECTS[rng.randrange(len(_SUBJECTS))]
        if target_bytes is None:
            width, height = _SIZES[rng.randrange(len(_SIZES))]
            data = _encode(_drawing(rng, width, height), fmt)
        else:
            data, width, height = _noise_of_size(rng, fmt, target_bytes)
        yield GeneratedPhoto(
            name=f"{subject}-{number:04d}.{_EXTENSIONS[fmt]}",
            album=album,
            content_type=_CONTENT_TYPES[fmt],
            data=data,
            width=width,
            height=height,
        )


def _drawing(rng: random.Random, width: int, height: int) -> Image.Image:
    """A gradient with a few shapes: looks like something, compresses like a photo would not."""
    low = tuple(rng.randrange(0, 128) for _ in range(3))
    high = tuple(rng.randrange(128, 256) for _ in range(3))
    gradient = Image.linear_gradient("L").resize((width, height)).rotate(rng.choice((0, 90)))
    image = ImageOps.colorize(gradient.resize((width, height)), black=low, white=high)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randrange(3, 8)):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1 = min(width, x0 + rng.randrange(8, max(9, width // 2)))
        y1 = min(height, y0 + rng.randrange(8, max(9, height // 2)))
        fill = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=fill)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=fill)
    return image


def _noise_of_size(rng: random.Random, fmt: str, target: int) -> tuple[bytes, int, int]:
    # Bytes per pixel of noise in each format, then one correction from the first try.
    per_pixel = {"PNG": 3.0, "JPEG": 1.6, "GIF": 1.0}[fmt]
    pixels = target / per_pixel
    data, width, height = b"", 0, 0
    for _ in range(2):
        width = max(16, int((pixels * 4 / 3) ** 0.5))
        height = max(12, int(pixels / width))
        image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
        data = _encode(image, fmt, fast=True)
        if abs(len(data) - target) <= target * 0.1:
            break
        pixels *= target / len(data)
    return data, width, height


def _encode(image: Image.Image, fmt: str, *, fast: bool = False) -> bytes:
    out = io.BytesIO()
    if fmt == "GIF":
        # An adaptive palette looks better; the web palette is fifty times faster (noise).
        palette = Image.Palette.WEB if fast else Image.Palette.ADAPTIVE
        image.convert("P", palette=palette, dither=Image.Dither.NONE).save(out, "GIF")
    elif fmt == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=88)
    else:
        image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def inspect_image(data: bytes, name: str) -> tuple[str, int, int]:
    """(content type, width, height) of stored bytes; (by the name, 0, 0) if not an image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = str(image.format)
                width, height = image.size
                return (
                    _CONTENT_TYPES.get(fmt) or Image.MIME.get(fmt, "application/octet-stream"),
                    int(width),
                    int(height),
                )
    except Exception:  # Pillow raises many kinds for bytes that are not an image
        guessed, _ = mimetypes.guess_type(name, strict=False)
        return guessed or "application/octet-stream", 0, 0


def _photo_row(photo: GeneratedPhoto | None, **values: Any) -> dict[str, Any]:
    if photo is not None:
        values.update(
            name=photo.name,
            album=photo.album,
            content_type=photo.content_type,
            data=photo.data,
            width=photo.width,
            height=photo.height,
        )
    data: bytes = values["data"]
    values["size"] = len(data)
    values["sha256"] = hashlib.sha256(data).hexdigest()
    values.setdefault("updated_at", _now())
    return values


async def insert_generated_photos(
    connection: AsyncConnection, *, count: int, seed: int, target_bytes: int | None = None
) -> None:
    """Fill a new demo database's library (`DemoPlatform.create(photos=...)`)."""
    await connection.execute(counters.insert().values(name=PHOTO_COUNTER, value=count))
    rows: list[dict[str, Any]] = []
    for seq, generated in enumerate(
        generate_photos(count=count, seed=seed, target_bytes=target_bytes), 1
    ):
        rows.append(_photo_row(generated, id=seq, seq=seq))
        if len(rows) == _BATCH:
            await connection.execute(photos.insert(), rows)
            rows = []
    if rows:
        await connection.execute(photos.insert(), rows)


class DemoPhotos:
    """The photo library's back office: add, edit, replace, delete, read."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # -- reading ----------------------------------------------------------------------

    async def get(self, key: str) -> Photo | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(_META.where(photos.c.id == _parse_key(key)))).first()
        return _photo(row) if row is not None else None

    async def read(self, key: str) -> bytes:
        async with self.engine.connect() as connection:
            data = (
                await connection.execute(
                    sa.select(photos.c.data).where(photos.c.id == _parse_key(key))
                )
            ).scalar_one_or_none()
        if data is None:
            raise ConnectorError(f"the demo platform has no photo {key}")
        return bytes(data)

    async def find(self, *, album: str | None = None, limit: int = 100) -> list[Photo]:
        """Photos in key order, optionally of one album."""
        query = _META.order_by(photos.c.id).limit(limit)
        if album is not None:
            query = query.where(photos.c.album == album)
        async with self.engine.connect() as connection:
            return [_photo(row) for row in await connection.execute(query)]

    async def page(self, *, after: str | None, limit: int, album: str | None) -> list[Photo]:
        query = _META.where(photos.c.seq > _decode(after)).order_by(photos.c.seq).limit(limit)
        if album is not None:
            query = query.where(photos.c.album == album)
        async with self.engine.connect() as connection:
            return [_photo(row) for row in await connection.execute(query)]

    async def count(self, *, album: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(photos)
        if album is not None:
            query = query.where(photos.c.album == album)
        async with self.engine.connect() as connection:
            return int((await connection.execute(query)).scalar_one())

    async def albums(self) -> list[str]:
        query = sa.select(photos.c.album).where(photos.c.album.is_not(None)).distinct()
        async with self.engine.connect() as connection:
            return sorted(str(a) for a in (await connection.execute(query)).scalars())

    # -- editing ------------------------------------------------------------------------

    async def add(self, name: str, data: bytes, *, album: str | None = None) -> Photo:
        """A new photo; its type and dimensions come from the bytes."""
        _check(name, data)
        content_type, width, height = inspect_image(data, name)
        async with self.engine.begin() as connection:
            seq = await _next_seq(connection)
            result = await connection.execute(
                photos.insert()
                .values(
                    **_photo_row(
                        None,
                        name=name,
                        album=album,
                        content_type=content_type,
                        data=data,
                        width=width,
                        height=height,
                        seq=seq,
                    )
                )
                .returning(photos.c.id)
            )
            key = str(result.scalar_one())
        return await self._get(key)

    async def replace(
        self, key: str, data: bytes, *, name: str | None = None, album: str | None = None
    ) -> Photo:
        """New bytes (and optionally name, album) for a photo; a repeat changes nothing."""
        current = await self._get(key)
        new_name = name if name is not None else current.name
        _check(new_name, data)
        digest = hashlib.sha256(data).hexdigest()
        new_album = album if album is not None else current.album
        if (digest, new_name, new_album) == (current.content_hash, current.name, current.album):
            return current
        content_type, width, height = inspect_image(data, new_name)
        async with self.engine.begin() as connection:
            seq = await _next_seq(connection)
            await connection.execute(
                photos.update()
                .where(photos.c.id == _parse_key(key))
                .values(
                    **_photo_row(
                        None,
                        name=new_name,
                        album=new_album,
                        content_type=content_type,
                        data=data,
                        width=width,
                        height=height,
                        seq=seq,
                    )
                )
            )
        return await self._get(key)

    async def edit(self, key: str) -> Photo:
        """Edit a photo as the editor would: draw on it, save it in its own format.

        The bytes (and so the content hash) change; name and dimensions stay.
        """
        current = await self._get(key)
        data = await self.read(key)
        try:
            with Image.open(io.BytesIO(data)) as opened:
                fmt = str(opened.format)
                image = opened.convert("RGB")
        except Exception as exc:
            raise ConnectorError(f"photo {key} is not an image the editor can open") from exc
        width, height = image.size
        marker = random.Random(f"{key}/{current.cursor}")
        draw = ImageDraw.Draw(image)
        side = max(2, min(width, height) // 4)
        x0, y0 = marker.randrange(max(1, width - side)), marker.randrange(max(1, height - side))
        draw.rectangle(
            (x0, y0, x0 + side, y0 + side), fill=tuple(marker.randrange(256) for _ in range(3))
        )
        return await self.replace(key, _encode(image, fmt if fmt in _EXTENSIONS else "PNG"))

    async def rename(self, key: str, name: str) -> Photo:
        return await self.replace(key, await self.read(key), name=name)

    async def delete(self, key: str) -> None:
        async with self.engine.begin() as connection:
            result = await connection.execute(photos.delete().where(photos.c.id == _parse_key(key)))
        if not result.rowcount:
            raise KeyError(f"no demo photo with key {key}")

    async def _get(self, key: str) -> Photo:
        found = await self.get(key)
        if found is None:
            raise KeyError(f"no demo photo with key {key}")
        return found


class PhotoLibraryMethods:
    """`PhotoLibrary` for `DemoConnector`: its photos, through the platform's `DemoPhotos`."""

    _platform: DemoPlatform

    async def photos(
        self, *, after: str | None, page_size: int, album: str | None = None
    ) -> AsyncIterator[list[Photo]]:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {page_size}")
        last = after
        while True:
            # One short read per page: nothing stays open while the engine uploads.
            page = await self._platform.photos.page(after=last, limit=page_size, album=album)
            if page:
                last = page[-1].cursor
                yield page
            if len(page) < page_size:
                return

    async def count_photos(self, *, album: str | None = None) -> int:
        return await self._platform.photos.count(album=album)

    async def get_photo(self, key: str) -> Photo | None:
        if not _is_key(key):
            return None
        return await self._platform.photos.get(key)

    async def read_photo(self, key: str) -> bytes:
        return await self._platform.photos.read(key)

    async def write_photo(
        self, *, name: str, data: bytes, album: str | None = None, key: str | None = None
    ) -> Photo:
        library = self._platform.photos
        if key is not None and await self.get_photo(key) is not None:
            return await library.replace(key, data, name=name, album=album)
        return await library.add(name, data, album=album)


# What `_photo` reads: everything but the bytes.
_META: sa.Select[Any] = sa.select(
    photos.c.id,
    photos.c.name,
    photos.c.album,
    photos.c.content_type,
    photos.c.size,
    photos.c.seq,
    photos.c.sha256,
    photos.c.width,
    photos.c.height,
)


def _photo(row: Row[Any]) -> Photo:
    key, name, album, content_type, size, seq, digest, width, height = tuple(row)
    return Photo(
        key=str(key),
        name=name,
        album=album,
        content_type=content_type,
        size=size,
        cursor=f"{seq:012d}",
        content_hash=digest,
        width=width,
        height=height,
    )


def _check(name: str, data: bytes) -> None:
    if not name.strip():
        raise ConnectorError("a demo photo needs a name")
    if not data:
        raise ConnectorError(f"the photo {name!r} is empty")


async def _next_seq(connection: AsyncConnection) -> int:
    result = await connection.execute(
        counters.update()
        .where(counters.c.name == PHOTO_COUNTER)
        .values(value=counters.c.value + 1)
        .returning(counters.c.value)
    )
    found = result.scalar_one_or_none()
    if found is not None:
        return int(found)
    # A demo database made before it had photos: start the counter now.
    await connection.execute(counters.insert().values(name=PHOTO_COUNTER, value=1))
    return 1


def _is_key(key: str) -> bool:
    # At most 18 digits: a longer number does not fit SQLite's 64-bit INTEGER (OverflowError).
    return key.isascii() and key.isdigit() and len(key) <= 18


def _parse_key(key: str) -> int:
    if not _is_key(key):
        raise ConnectorError(f"{key!r} is not a demo photo key")
    return int(key)


def _decode(after: str | None) -> int:
    if after is None:
        return 0
    if len(after) != 12 or not _is_key(after):
        raise ConnectorError(f"the cursor {after!r} was not made by the demo platform")
    return int(after)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
