"""The keyring: AES-256-GCM encryption of every secret xkit keeps at rest.

A ciphertext reads ``xk1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>``. The key id lets
several keys be loaded at once, so keys can be rotated without downtime: the first key encrypts,
every loaded key decrypts. The associated data names the table, column and row a value belongs
to, so a ciphertext copied into another row or column fails to decrypt instead of leaking there.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from xkit.errors import ConfigurationError

PREFIX = "xk1"
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_NONCE_BYTES = 12


class DecryptionError(Exception):
    """A ciphertext could not be decrypted: unknown key, wrong key, or tampered with."""


@dataclass(frozen=True)
class EncryptionKey:
    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not _KEY_ID.match(self.key_id):
            raise ConfigurationError(
                f"encryption key id {self.key_id!r} must be 1-32 letters, digits, '-' or '_'"
            )
        if len(self.secret) != 32:
            raise ConfigurationError(
                f"encryption key {self.key_id!r} must be 32 bytes (256 bits), "
                f"got {len(self.secret)}"
            )

    @classmethod
    def generate(cls) -> EncryptionKey:
        return cls(key_id=secrets.token_hex(4), secret=AESGCM.generate_key(bit_length=256))

    def to_spec(self) -> str:
        """The ``id:base64url`` form used in ``XKIT_ENCRYPTION_KEYS`` and the key file."""
        return f"{self.key_id}:{_b64encode(self.secret)}"


def parse_key_spec(spec: str) -> list[EncryptionKey]:
    """Parse ``id:base64url[,id:base64url…]``; the first key is the one that encrypts."""
    keys: list[EncryptionKey] = []
    for number, part in enumerate(p.strip() for p in spec.replace("\n", ",").split(",")):
        if not part:
            continue
        key_id, sep, encoded = part.partition(":")
        if not sep:
            raise ConfigurationError(
                f"encryption key #{number + 1} is not in the form 'id:base64url-key'"
            )
        try:
            secret = _b64decode(encoded)
        except ValueError:
            raise ConfigurationError(f"encryption key {key_id!r} is not valid base64url") from None
        keys.append(EncryptionKey(key_id=key_id, secret=secret))
    if not keys:
        raise ConfigurationError("no encryption key given")
    ids = [key.key_id for key in keys]
    if len(set(ids)) != len(ids):
        raise ConfigurationError("two encryption keys share one key id")
    return keys


class Keyring:
    """Encrypts with the first key; decrypts with whichever key the ciphertext names."""

    def __init__(self, keys: Sequence[EncryptionKey]) -> None:
        if not keys:
            raise ConfigurationError("a keyring needs at least one key")
        self._keys = {key.key_id: key for key in keys}
        self._ciphers = {key.key_id: AESGCM(key.secret) for key in keys}
        self.primary_key_id = keys[0].key_id
        self._derived: dict[tuple[str, bytes], bytes] = {}

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def encrypt(self, plaintext: str, *, aad: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self.primary_key_id].encrypt(
            nonce, plaintext.encode(), _associated_data(self.primary_key_id, aad)
        )
        return f"{PREFIX}.{self.primary_key_id}.{_b64encode(nonce + sealed)}"

    def decrypt(self, ciphertext: str, *, aad: str) -> str:
        key_id, payload = _split(ciphertext)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise DecryptionError(f"encrypted with key {key_id!r}, which is not loaded")
        nonce, sealed = payload[:_NONCE_BYTES], payload[_NONCE_BYTES:]
        try:
            return cipher.decrypt(nonce, sealed, _associated_data(key_id, aad)).decode()
        except InvalidTag:
            raise DecryptionError(
                f"value does not decrypt with key {key_id!r}: wrong key, tampered, "
                "or moved from another row"
            ) from None

    def derive_key(self, purpose: bytes, key_id: str | None = None) -> bytes:
        """A 256-bit key for one purpose (signing context tokens, the sandbox's tokens),
        derived with HKDF from a loaded key (the primary one unless named), so no other key
        needs storing and rotation carries over. Computed once per key and purpose."""
        key_id = key_id or self.primary_key_id
        cached = self._derived.get((key_id, purpose))
        if cached is None:
            cached = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
                self._keys[key_id].secret
            )
            self._derived[(key_id, purpose)] = cached
        return cached

    def needs_rotation(self, ciphertext: str) -> bool:
        return key_id_of(ciphertext) != self.primary_key_id


def fingerprint(secret: str) -> str:
    """What xkit stores instead of a high-entropy secret it never needs back (API key secrets,
    one-time tokens, OAuth state, session tokens): its SHA-256, in hex. A slow password hash
    would add nothing against guessing 256 random bits, and these sit on hot paths."""
    return hashlib.sha256(secret.encode()).hexdigest()


def key_id_of(ciphertext: str) -> str:
    return _split(ciphertext)[0]


def _split(ciphertext: str) -> tuple[str, bytes]:
    parts = ciphertext.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise DecryptionError("not an xkit ciphertext")
    try:
        payload = _b64decode(parts[2])
    except ValueError:
        raise DecryptionError("ciphertext is not valid base64url") from None
    if len(payload) < _NONCE_BYTES + 16:
        raise DecryptionError("ciphertext is too short")
    return parts[1], payload


def _associated_data(key_id: str, aad: str) -> bytes:
    return f"xkit/{PREFIX}/{key_id}/{aad}".encode()


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None


def read_key_file(path: Path) -> list[EncryptionKey]:
    return parse_key_spec(path.read_text())


def create_key_file(path: Path) -> EncryptionKey:
    """Write a new key to ``path`` with mode 0600, refusing to overwrite an existing file."""
    key = EncryptionKey.generate()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.to_spec() + "\n")
    return key
