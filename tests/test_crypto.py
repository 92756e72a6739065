"""The keyring: AES-256-GCM with key ids, associated data and rotation."""

from __future__ import annotations

import stat

import pytest

from xkit.crypto import (
    DecryptionError,
    EncryptionKey,
    Keyring,
    create_key_file,
    key_id_of,
    parse_key_spec,
    read_key_file,
)
from xkit.errors import ConfigurationError

pytestmark = pytest.mark.database_independent


@pytest.fixture
def key_a() -> EncryptionKey:
    return EncryptionKey.generate()


@pytest.fixture
def key_b() -> EncryptionKey:
    return EncryptionKey.generate()


def test_round_trip_names_the_key_and_hides_the_plaintext(key_a: EncryptionKey) -> None:
    keyring = Keyring([key_a])
    sealed = keyring.encrypt("s3cr3t-value", aad="connectors.client_secret:row-1")
    assert "s3cr3t" not in sealed
    assert key_id_of(sealed) == key_a.key_id
    assert keyring.decrypt(sealed, aad="connectors.client_secret:row-1") == "s3cr3t-value"


def test_same_plaintext_encrypts_differently_each_time(key_a: EncryptionKey) -> None:
    keyring = Keyring([key_a])
    assert keyring.encrypt("x", aad="a") != keyring.encrypt("x", aad="a")


def test_tampered_ciphertext_is_rejected(key_a: EncryptionKey) -> None:
    keyring = Keyring([key_a])
    sealed = keyring.encrypt("value", aad="t.c:1")
    prefix, key_id, payload = sealed.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    with pytest.raises(DecryptionError):
        keyring.decrypt(f"{prefix}.{key_id}.{flipped}", aad="t.c:1")


@pytest.mark.parametrize(
    "other_aad", ["connectors.client_secret:row-2", "authorizations.access_token:row-1"]
)
def test_ciphertext_moved_to_another_row_or_column_is_rejected(
    key_a: EncryptionKey, other_aad: str
) -> None:
    keyring = Keyring([key_a])
    sealed = keyring.encrypt("value", aad="connectors.client_secret:row-1")
    with pytest.raises(DecryptionError, match="moved from another row"):
        keyring.decrypt(sealed, aad=other_aad)


def test_rotation_new_primary_encrypts_old_key_still_decrypts(
    key_a: EncryptionKey, key_b: EncryptionKey
) -> None:
    old = Keyring([key_a]).encrypt("value", aad="x")
    rotated = Keyring([key_b, key_a])
    assert rotated.decrypt(old, aad="x") == "value"
    assert rotated.needs_rotation(old)
    fresh = rotated.encrypt("value", aad="x")
    assert key_id_of(fresh) == key_b.key_id and not rotated.needs_rotation(fresh)


def test_unknown_key_and_wrong_key_are_told_apart(
    key_a: EncryptionKey, key_b: EncryptionKey
) -> None:
    sealed = Keyring([key_a]).encrypt("value", aad="x")
    with pytest.raises(DecryptionError, match="not loaded"):
        Keyring([key_b]).decrypt(sealed, aad="x")
    impostor = EncryptionKey(key_id=key_a.key_id, secret=key_b.secret)
    with pytest.raises(DecryptionError, match="wrong key"):
        Keyring([impostor]).decrypt(sealed, aad="x")


@pytest.mark.parametrize("garbage", ["", "plaintext", "xk1.k.", "xk1.k.!!!!", "xk2.k.AAAA"])
def test_garbage_is_a_decryption_error_not_a_crash(key_a: EncryptionKey, garbage: str) -> None:
    with pytest.raises(DecryptionError):
        Keyring([key_a]).decrypt(garbage, aad="x")


def test_key_spec_round_trip_and_errors(key_a: EncryptionKey, key_b: EncryptionKey) -> None:
    keys = parse_key_spec(f"{key_a.to_spec()}, {key_b.to_spec()}")
    assert [k.key_id for k in keys] == [key_a.key_id, key_b.key_id]
    for bad, message in [
        ("", "no encryption key"),
        ("nocolon", "form"),
        ("k1:c2hvcnQ", "32 bytes"),
        ("bad id!:" + key_a.to_spec().split(":")[1], "key id"),
        (f"{key_a.to_spec()},{key_a.to_spec()}", "share"),
    ]:
        with pytest.raises(ConfigurationError, match=message):
            parse_key_spec(bad)


def test_key_repr_does_not_show_the_secret(key_a: EncryptionKey) -> None:
    assert key_a.to_spec().split(":")[1] not in repr(key_a)


def test_key_file_is_private_and_never_overwritten(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "encryption.key"
    key = create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_key_file(path)[0] == key
    with pytest.raises(FileExistsError):
        create_key_file(path)


def test_derived_keys_are_stable_and_separate_by_purpose_and_key(
        key_a: EncryptionKey, key_b: EncryptionKey) -> None:
    keyring = Keyring([key_a, key_b])
    signing = keyring.derive_key(b"purpose one")
    assert len(signing) == 32 and signing == Keyring([key_a]).derive_key(b"purpose one")
    assert signing != keyring.derive_key(b"purpose two")
    assert signing != keyring.derive_key(b"purpose one", key_b.key_id)
    assert key_a.secret not in (signing, keyring.derive_key(b"purpose two"))
