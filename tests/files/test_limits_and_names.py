"""The File Manager's limits (REFERENCE.md §9) and the names uploads get."""

from __future__ import annotations

import pytest

from chimplink.platforms import Photo
from chimplink.sync.files import (
    MAX_FILE_BYTES,
    Limit,
    check_limits,
    original_name,
    sent_name,
    token,
    token_of,
    upload_name,
)


@pytest.mark.parametrize(
    ("name", "size", "limit"),
    [
        ("beach.png", MAX_FILE_BYTES, None),
        ("BEACH.JPG", 1, None),
        ("drawing.svg", 10, None),
        ("archive.tar.gz", 10, None),
        ("beach.png", MAX_FILE_BYTES + 1, Limit.SIZE),
        ("beach.png", 0, Limit.EMPTY),
        ("cat.webp", 10, Limit.TYPE),
        ("photo.heic", 10, Limit.TYPE),
        ("README", 10, Limit.TYPE),
        (".png", 10, Limit.TYPE),  # a hidden file's name, not a type
        ("cat.webp", MAX_FILE_BYTES + 1, Limit.TYPE),  # the type is told first
    ],
)
def test_limits(name: str, size: int, limit: Limit | None) -> None:
    found = check_limits(name, size)
    assert (found.limit if found else None) == limit
    if found is not None:
        assert name in found.message


def test_messages_name_the_limit() -> None:
    big = check_limits("poster.tif", 12_345_678)
    assert big is not None
    assert big.message == (
        "poster.tif is 11.8 MB (12,345,678 bytes): Mailchimp's File Manager accepts files "
        "of up to 10 MB (10,485,760 bytes)."
    )
    webp = check_limits("cat.webp", 10)
    assert webp is not None and webp.message.startswith(
        "cat.webp: Mailchimp's File Manager does not accept .webp files (images it accepts: .jpg,"
    )


def _photo(name: str, content_type: str = "image/png", key: str = "7") -> Photo:
    return Photo(key=key, name=name, album=None, content_type=content_type, size=1, cursor="1")


def test_a_name_without_extension_takes_it_from_the_content_type() -> None:
    assert upload_name(_photo("Sunset")) == "Sunset.png"
    assert upload_name(_photo("Sunset", "image/jpeg; charset=binary")) == "Sunset.jpg"
    assert upload_name(_photo("Sunset", "application/x-unknown")) == "Sunset"
    assert upload_name(_photo("  ")) == "photo-7.png"
    assert upload_name(_photo("Beach.GIF", "image/png")) == "Beach.GIF"


def test_sent_names_carry_a_token_of_key_and_content() -> None:
    digest = "c" * 64
    name = sent_name("beach.png", key="7", content_hash=digest)
    mark = token("7", digest)
    assert name == f"beach-{mark}.png"
    assert token_of(name) == mark
    # Mailchimp may correct the extension (§9): the token is in the stem.
    assert token_of(f"beach-{mark}.jpg") == mark
    assert original_name(name, key="7", content_hash=digest) == "beach.png"
    assert original_name(f"scan-{mark}", key="7", content_hash=digest) == "scan"
    assert original_name("other.png", key="7", content_hash=digest) == "other.png"
    assert token("8", digest) != mark and token("7", "d" * 64) != mark
    assert token_of("beach.png") is None and token_of("my-holiday.png") is None
    assert len(sent_name("x" * 300 + ".png", key="7", content_hash=digest)) < 200
