"""Secrets at rest: `TokenCipher`, MultiFernet with each ciphertext bound to its row.

Mailchimp tokens never expire and carry no scopes (reliability.md §1.3), so the
database must never hold one in clear. Fernet (AES-128-CBC + HMAC-SHA256) gives
confidentiality and integrity; MultiFernet gives rotation (newest key first,
older keys still decrypt).

Fernet has no associated data, so the binding is done inside the plaintext:
we encrypt `chimplink/1 NUL <context> NUL <secret>`, where the context names
the row and the purpose (`installation:<id>:access_token`). Decryption checks
the context: a ciphertext copied onto another row (another tenant's
installation, or another column) fails to decrypt, although the key is right.

Every ciphertext is stored with the id of the key that made it (a fingerprint,
not the key), so rotation can tell which rows still use an old key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

__all__ = [
    "DecryptionError",
    "Sealed",
    "TokenCipher",
    "access_token_context",
    "cleanup_token_context",
    "code_verifier_context",
    "key_id",
    "signing_secret_context",
]

_MAGIC = b"chimplink/1"
_SEPARATOR = b"\x00"


class DecryptionError(Exception):
    """A ciphertext could not be opened: unknown key, tampering, or bound to another row."""


@dataclass(frozen=True)
class Sealed:
    """A ciphertext and the id of the key that produced it."""

    ciphertext: str
    key_id: str


def key_id(key: str | bytes) -> str:
    """A short public name for a key: SHA-256 of the key bytes, 16 hex digits."""
    raw = base64.urlsafe_b64decode(key if isinstance(key, bytes) else key.encode("ascii"))
    return hashlib.sha256(b"chimplink key id\x00" + raw).hexdigest()[:16]


def access_token_context(installation_id: str) -> str:
    return f"installation:{installation_id}:access_token"


def signing_secret_context(installation_id: str) -> str:
    return f"installation:{installation_id}:signing_secret"


def code_verifier_context(state_hash: str) -> str:
    return f"oauth_state:{state_hash}:code_verifier"


def cleanup_token_context(cleanup_id: str) -> str:
    return f"pending_cleanup:{cleanup_id}:access_token"


def _key_text(key: str | bytes | SecretStr) -> str:
    if isinstance(key, SecretStr):
        return key.get_secret_value()
    return key.decode("ascii") if isinstance(key, bytes) else key


class TokenCipher:
    """Encrypts and decrypts secrets bound to a context. Keys: newest first."""

    def __init__(self, keys: Iterable[str | bytes | SecretStr]) -> None:
        texts = [_key_text(key).strip() for key in keys]
        if not texts:
            raise ValueError("TokenCipher needs at least one key")
        try:
            fernets = [Fernet(text.encode("ascii")) for text in texts]
        except (ValueError, UnicodeEncodeError):
            raise ValueError("not a Fernet key (32 bytes, url-safe base64)") from None
        self._fernet = MultiFernet(fernets)
        self._key_ids = tuple(key_id(text) for text in texts)

    def __repr__(self) -> str:
        return f"TokenCipher(current_key_id={self.current_key_id!r}, keys={len(self._key_ids)})"

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")

    @property
    def current_key_id(self) -> str:
        """The id of the newest key, the one every new ciphertext uses."""
        return self._key_ids[0]

    @property
    def key_ids(self) -> tuple[str, ...]:
        return self._key_ids

    def encrypt(self, secret: str, *, context: str) -> Sealed:
        """Encrypt `secret` with the newest key, bound to `context`."""
        if not context or "\x00" in context:
            raise ValueError("context must be a non-empty string without NUL")
        plaintext = _SEPARATOR.join((_MAGIC, context.encode("utf-8"), secret.encode("utf-8")))
        return Sealed(self._fernet.encrypt(plaintext).decode("ascii"), self.current_key_id)

    def decrypt(self, ciphertext: str, *, context: str) -> str:
        """The secret, if `ciphertext` opens with one of our keys and was bound to `context`."""
        try:
            plaintext = self._fernet.decrypt(ciphertext.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise DecryptionError(
                "cannot decrypt: made with a key that is not configured, or altered"
            ) from None
        magic, _, rest = plaintext.partition(_SEPARATOR)
        bound, _, secret = rest.partition(_SEPARATOR)
        if magic != _MAGIC or not hmac.compare_digest(bound, context.encode("utf-8")):
            raise DecryptionError("cannot decrypt: the ciphertext belongs to another record")
        return secret.decode("utf-8")

    def reencrypt(self, ciphertext: str, *, context: str) -> Sealed:
        """Decrypt (checking the binding) and encrypt again with the newest key."""
        return self.encrypt(self.decrypt(ciphertext, context=context), context=context)
