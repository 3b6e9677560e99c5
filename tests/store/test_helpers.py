"""The canary scanner finds a secret in every encoding it claims to cover."""

from __future__ import annotations

import base64
import urllib.parse

from tests.store.helpers import encodings, leaks

CANARY = "canary+Tok/en=9f8e7d6c5b4a"


def test_finds_each_encoding_inside_other_data() -> None:
    raw = CANARY.encode()
    for prefix in (b"", b"x", b"xy", b"xyz"):
        blob = prefix + raw + b"tail"
        for encoded in (
            blob,
            base64.b64encode(blob),
            base64.urlsafe_b64encode(blob),
            blob.hex().encode(),
            urllib.parse.quote(blob.decode()).encode(),
            urllib.parse.quote_plus(blob.decode()).encode(),
        ):
            assert leaks(b"header " + encoded + b" footer", CANARY), encoded


def test_no_false_alarm() -> None:
    assert not leaks(b"nothing to see here" * 100, CANARY)
    assert len(encodings(CANARY)) >= 7
