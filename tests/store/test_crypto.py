"""TokenCipher: round trips, binding to a row, rotation, no secret in repr."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chimplink.store.crypto import (
    DecryptionError,
    TokenCipher,
    access_token_context,
    key_id,
    signing_secret_context,
)

KEY_A = TokenCipher.generate_key()
KEY_B = TokenCipher.generate_key()


@given(secret=st.text(), row=st.uuids())
def test_round_trip_any_secret(secret: str, row: object) -> None:
    cipher = TokenCipher([KEY_A])
    context = access_token_context(str(row))
    sealed = cipher.encrypt(secret, context=context)
    assert cipher.decrypt(sealed.ciphertext, context=context) == secret
    assert sealed.key_id == cipher.current_key_id == key_id(KEY_A)


def test_ciphertext_is_bound_to_its_row_and_purpose() -> None:
    cipher = TokenCipher([KEY_A])
    sealed = cipher.encrypt("token-of-a", context=access_token_context("installation-a"))
    with pytest.raises(DecryptionError, match="another record"):
        cipher.decrypt(sealed.ciphertext, context=access_token_context("installation-b"))
    with pytest.raises(DecryptionError, match="another record"):
        cipher.decrypt(sealed.ciphertext, context=signing_secret_context("installation-a"))


def test_each_encryption_differs() -> None:
    cipher = TokenCipher([KEY_A])
    first = cipher.encrypt("same", context="c")
    second = cipher.encrypt("same", context="c")
    assert first.ciphertext != second.ciphertext


def test_tampered_or_foreign_ciphertexts_fail() -> None:
    cipher = TokenCipher([KEY_A])
    sealed = cipher.encrypt("secret", context="c")
    flipped = (
        sealed.ciphertext[:20]
        + ("A" if sealed.ciphertext[20] != "A" else "B")
        + sealed.ciphertext[21:]
    )
    for bad in (flipped, "not a token", "", "é"):
        with pytest.raises(DecryptionError):
            cipher.decrypt(bad, context="c")
    with pytest.raises(DecryptionError, match="key"):
        TokenCipher([KEY_B]).decrypt(sealed.ciphertext, context="c")


def test_rotation_newest_key_first() -> None:
    old = TokenCipher([KEY_A])
    sealed = old.encrypt("secret", context="c")
    both = TokenCipher([KEY_B, KEY_A])
    assert both.decrypt(sealed.ciphertext, context="c") == "secret"
    rotated = both.reencrypt(sealed.ciphertext, context="c")
    assert rotated.key_id == key_id(KEY_B) != sealed.key_id
    assert TokenCipher([KEY_B]).decrypt(rotated.ciphertext, context="c") == "secret"
    with pytest.raises(DecryptionError):
        TokenCipher([KEY_B]).decrypt(sealed.ciphertext, context="c")


def test_no_key_material_in_repr() -> None:
    cipher = TokenCipher([KEY_A, KEY_B])
    assert KEY_A not in repr(cipher)
    assert KEY_B not in repr(cipher)
    assert "current_key_id" in repr(cipher)


def test_bad_keys_and_contexts_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        TokenCipher([])
    with pytest.raises(ValueError, match="Fernet key"):
        TokenCipher(["too-short"])
    with pytest.raises(ValueError, match="context"):
        TokenCipher([KEY_A]).encrypt("x", context="")
    with pytest.raises(ValueError, match="context"):
        TokenCipher([KEY_A]).encrypt("x", context="a\x00b")
