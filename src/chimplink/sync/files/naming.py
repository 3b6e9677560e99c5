"""The names files get in Mailchimp, and how an upload is recognised in a listing.

`POST /file-manager/files` is not idempotent: after a crash, or an answer
that never came, the only way to know whether a file arrived is to list the
folder and look for it. So the name sent embeds a token of the photo's key
and content hash (`beach-3fa2c1d4e5.png`): with the size, it tells this
upload from every other file, including an identical photo under another
key. Mailchimp may change the extension to the real format (§9), never the
stem, so matching looks for the token, not the exact name.
"""

from __future__ import annotations

import hashlib

from chimplink.platforms import Photo
from chimplink.sync.files.limits import extension

__all__ = ["original_name", "sent_name", "token", "token_of", "upload_name"]

_TOKEN_LENGTH = 10  # hex digits: 40 bits, against the few files of one folder
_STEM_LENGTH = 180  # room for the token and the extension in Mailchimp's name

# Content types a name without an extension can take its extension from.
_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "image/tiff": "tif",
    "image/svg+xml": "svg",
}


def token(key: str, content_hash: str) -> str:
    return hashlib.sha256(f"{key}\n{content_hash}".encode()).hexdigest()[:_TOKEN_LENGTH]


def token_of(name: str) -> str | None:
    """The token in a name `sent_name` made (None for other names)."""
    stem, dot, _ = name.rpartition(".")
    found = (stem if dot and stem else name).rpartition("-")[2]
    if len(found) == _TOKEN_LENGTH and all(c in "0123456789abcdef" for c in found):
        return found
    return None


def upload_name(photo: Photo) -> str:
    """The photo's name with an extension (from its content type when the name has none)."""
    name = photo.name.strip() or f"photo-{photo.key}"
    if extension(name):
        return name
    guessed = _EXTENSIONS.get(photo.content_type.split(";")[0].strip().lower())
    return f"{name}.{guessed}" if guessed else name


def sent_name(name: str, *, key: str, content_hash: str) -> str:
    """`name` with the upload's token before its extension."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    stem = stem[:_STEM_LENGTH]
    suffix = f".{ext}" if ext else ""
    return f"{stem}-{token(key, content_hash)}{suffix}"


def original_name(name: str, *, key: str, content_hash: str) -> str:
    """The platform's name back from a name `sent_name` made (unchanged if not one)."""
    marker = f"-{token(key, content_hash)}"
    stem, dot, ext = name.rpartition(".")
    if dot and stem.endswith(marker):
        return f"{stem.removesuffix(marker)}.{ext}"
    return name.removesuffix(marker)
