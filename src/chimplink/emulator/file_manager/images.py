"""What an uploaded file is: image or file, its real format, its dimensions (REFERENCE.md §9).

Mailchimp "will inspect each file and change extensions to reflect the
original format". The emulator inspects the bytes with Pillow: web image
formats (JPEG, PNG, GIF, BMP) are `type: "image"` with their width and height,
and the name's extension is corrected to the detected format. Anything else is
`type: "file"` with width and height 0, named as uploaded.
"""

from __future__ import annotations

import io
import mimetypes
import warnings
from dataclasses import dataclass

from PIL import Image

# Detected format → extensions that already say it (the first is used to rename).
_IMAGE_FORMATS: dict[str, tuple[str, ...]] = {
    "JPEG": ("jpg", "jpeg", "jpe"),
    "PNG": ("png",),
    "GIF": ("gif",),
    "BMP": ("bmp",),
}
_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "BMP": "image/bmp"}


@dataclass(frozen=True, slots=True)
class Inspected:
    type: str
    name: str
    content_type: str
    width: int
    height: int


def _image_format(data: bytes) -> tuple[str, int, int] | None:
    try:
        with warnings.catch_warnings():
            # A huge image is still an image; Pillow only reads its header here.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(_IMAGE_FORMATS)) as image:
                width, height = image.size
                return str(image.format), int(width), int(height)
    except Exception:  # Pillow raises many kinds for bytes that are not an image
        return None


def _renamed(name: str, fmt: str) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    if ext.lower() in _IMAGE_FORMATS[fmt]:
        return name
    return f"{stem}.{_IMAGE_FORMATS[fmt][0]}"


def inspect(data: bytes, name: str) -> Inspected:
    found = _image_format(data)
    if found is not None:
        fmt, width, height = found
        return Inspected(
            type="image",
            name=_renamed(name, fmt),
            content_type=_CONTENT_TYPES[fmt],
            width=width,
            height=height,
        )
    return Inspected(type="file", name=name, content_type=content_type_of(name), width=0, height=0)


def content_type_of(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"
